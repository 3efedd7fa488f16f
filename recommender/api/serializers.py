"""JSON shapes of the public API (DESIGN.md §6)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from photos.models import Photo

from ..albums import album_from_annotations
from ..selectors import Recommendation


def absolute(request, url: str | None) -> str | None:
    if url and request is not None:
        return request.build_absolute_uri(url)
    return url


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

    def get_thumbnail_url(self, photo: Photo) -> str | None:
        return absolute(self.context.get("request"), photo.rendition_url("thumb"))

    def get_image_url(self, photo: Photo) -> str | None:
        return absolute(self.context.get("request"), photo.rendition_url("display"))

    def get_page_url(self, photo: Photo) -> str:
        return absolute(self.context.get("request"), photo.get_absolute_url())

    def get_cluster(self, photo: Photo) -> int | None:
        """The photo's visible album in the active run (album ids outlive runs)."""
        album = album_from_annotations(photo)
        return album.pk if album else None


class SimilarQuerySerializer(serializers.Serializer):
    k = serializers.IntegerField(min_value=1, default=10)

    def validate_k(self, value: int) -> int:
        limit = settings.STYLEFINDER_MAX_SIMILAR
        if value > limit:
            raise serializers.ValidationError(f"k must be at most {limit}.")
        return value


class SimilarUploadSerializer(SimilarQuerySerializer):
    image = serializers.FileField(allow_empty_file=True)


class RecommendationSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="photo.pk")
    rank = serializers.IntegerField()
    score = serializers.FloatField()
    title = serializers.CharField(source="photo.display_title")
    original_filename = serializers.CharField(source="photo.original_filename")
    width = serializers.IntegerField(source="photo.width")
    height = serializers.IntegerField(source="photo.height")
    thumbnail_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()
    reasons = serializers.ListField(child=serializers.CharField())

    def get_thumbnail_url(self, item: Recommendation) -> str | None:
        return absolute(self.context.get("request"), item.thumbnail_url)

    def get_page_url(self, item: Recommendation) -> str:
        return absolute(self.context.get("request"), item.photo.get_absolute_url())


class SimilarResponseSerializer(serializers.Serializer):
    photo = serializers.IntegerField(allow_null=True)
    variant = serializers.CharField()
    results = RecommendationSerializer(many=True)
