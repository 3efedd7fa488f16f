from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "Recommender"

    def ready(self) -> None:
        from photos import pipeline
        from photos.signals import library_changed, library_settled

        from . import content_version, services

        pipeline.register_step(services.extract_photo_features)
        content_version.connect()
        library_changed.connect(_library_changed, dispatch_uid="recommender.library_changed")
        library_settled.connect(_library_settled, dispatch_uid="recommender.library_settled")


def _library_changed(sender, photo_ids, **kwargs) -> None:
    from .services import library_changed

    library_changed(photo_ids)


def _library_settled(sender, **kwargs) -> None:
    from .services import settle

    settle()
