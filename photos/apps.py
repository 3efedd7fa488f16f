from django.apps import AppConfig


class PhotosConfig(AppConfig):
    name = "photos"
    verbose_name = "Photo library"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        from . import signals  # noqa: F401  (connects receivers)

        # Pillow's own decompression-bomb guard, in line with ours (it errors at twice this).
        Image.MAX_IMAGE_PIXELS = settings.STYLEFINDER_MAX_PIXELS
