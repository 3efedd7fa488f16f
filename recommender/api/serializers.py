"""JSON shapes of the public API (DESIGN.md §6)."""

from __future__ import annotations

from rest_framework import serializers

from photos.models import Photo


class PhotoSerializer(serializers.ModelSerializer):
    thumbnail_url = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()
    cluster = serializers.SerializerMethodField()

    class Meta:
        model = Photo
        fields = [
            "id",
            "title",
            "description",
            "original_filename",
            "status",
            "width",
            "height",
            "taken_at",
            "thumbnail_url",
            "image_url",
            "page_url",
            "cluster",
            "created_at",
        ]

    def _absolute(self, url: str | None) -> str | None:
        request = self.context.get("request")
        if url and request is not None:
            return request.build_absolute_uri(url)
        return url

    def get_thumbnail_url(self, photo: Photo) -> str | None:
        return self._absolute(photo.rendition_url("thumb"))

    def get_image_url(self, photo: Photo) -> str | None:
        return self._absolute(photo.rendition_url("display"))

    def get_page_url(self, photo: Photo) -> str:
        return self._absolute(photo.get_absolute_url())

    def get_cluster(self, photo: Photo) -> int | None:
        # Albums arrive with the clustering issue; until then no photo belongs to one.
        return None
