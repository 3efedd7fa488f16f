from django.apps import AppConfig


class PhotosConfig(AppConfig):
    name = "photos"
    verbose_name = "Photo library"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects receivers)
