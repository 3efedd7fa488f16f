from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "Recommender"

    def ready(self) -> None:
        from photos import pipeline
        from photos.signals import library_changed

        from . import services

        pipeline.register_step(services.extract_photo_features)
        library_changed.connect(_library_changed, dispatch_uid="recommender.library_changed")


def _library_changed(sender, photo_ids, **kwargs) -> None:
    from .services import request_recluster

    request_recluster()
