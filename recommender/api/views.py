from rest_framework import viewsets

from photos.models import Photo

from .serializers import PhotoSerializer


class PhotoViewSet(viewsets.ReadOnlyModelViewSet):
    """Photos in the library. Visitors see published photos; staff see every photo."""

    serializer_class = PhotoSerializer

    def get_queryset(self):
        photos = Photo.objects.with_renditions().order_by("-created_at", "-id")
        if not (self.request.user.is_authenticated and self.request.user.is_staff):
            photos = photos.filter(published=True)
        return photos
