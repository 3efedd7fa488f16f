"""GET /api/albums/ and /api/albums/{id}/: the public albums (clusters) of the active run.

The same albums as the public album pages: visible albums with at least one public photo,
largest first. Hidden albums are never listed, to anyone (the photographer manages them in the
admin). An album's photos are `/api/photos/?cluster=ID` (its `photos_url`).
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from recommender.albums import AlbumCard, public_albums
from recommender.selectors import active_run

from .base import ApiViewMixin
from .serializers import absolute


class AlbumSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="album.pk", help_text="Stable across re-clustering.")
    name = serializers.CharField(help_text="The photographer's title, or the automatic name.")
    attributes = serializers.ListField(
        child=serializers.CharField(), help_text="Dominant style attributes of its photos."
    )
    photo_count = serializers.IntegerField(source="count", help_text="Public photos in it.")
    cover = serializers.SerializerMethodField(help_text="The id of the cover photo.")
    cover_thumbnail_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(help_text="This album in the API.")
    photos_url = serializers.SerializerMethodField(help_text="Its photos in the API.")
    page_url = serializers.SerializerMethodField(help_text="Its page on the public site.")

    def get_cover(self, card: AlbumCard) -> int | None:
        return card.cover.pk if card.cover is not None else None

    def get_cover_thumbnail_url(self, card: AlbumCard) -> str | None:
        thumb = card.cover_thumb
        return absolute(self.context.get("request"), thumb.file.url) if thumb else None

    def get_url(self, card: AlbumCard) -> str:
        return absolute(
            self.context.get("request"), reverse("api:album-detail", args=[card.album.pk])
        )

    def get_photos_url(self, card: AlbumCard) -> str:
        url = f"{reverse('api:photo-list')}?cluster={card.album.pk}"
        return absolute(self.context.get("request"), url)

    def get_page_url(self, card: AlbumCard) -> str:
        return absolute(self.context.get("request"), card.url)


def visible_albums() -> list[AlbumCard]:
    return public_albums(active_run())


@extend_schema_view(
    list=extend_schema(summary="The public albums, largest first"),
    retrieve=extend_schema(
        summary="One public album",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Album id.")],
    ),
)
class AlbumViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Albums: the clusters of photos of a similar style, as the public site shows them."""

    serializer_class = AlbumSerializer
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return visible_albums()

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk: str):
        for card in self.get_queryset():
            if str(card.album.pk) == pk.lstrip("0"):
                return Response(self.get_serializer(card).data)
        raise Http404("No such album.")
