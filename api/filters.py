"""Query parameters of GET /api/photos/: `cluster`, `status`, `search`."""

from __future__ import annotations

from django.db.models import OuterRef, Q, QuerySet, Subquery
from rest_framework import serializers

from photos.models import Photo
from recommender.models import Membership

from .serializers import FormTextField

#: ids are database integers; anything larger is simply not there (not an overflow)
MAX_ID = 2**63 - 1
MAX_SEARCH_LENGTH = 200
MAX_SEARCH_TERMS = 10
SEARCH_FIELDS = ("title", "description", "original_filename")


class PhotoFilterSerializer(serializers.Serializer):
    cluster = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text=(
            "Only the photos of this album (an id from /api/albums/, a photo's `cluster`), "
            "nearest the album's centre of style first."
        ),
    )
    status = serializers.ChoiceField(
        choices=Photo.Status.choices,
        required=False,
        help_text=(
            "Only photos in this processing state. Visitors only ever see ready, published "
            "photos: for them anything but `ready` is an empty list."
        ),
    )
    search = FormTextField(
        required=False,
        allow_blank=True,
        max_length=MAX_SEARCH_LENGTH,
        help_text=(
            "Words to find in the title, description or original file name (case-insensitive; "
            "every word must appear in one of them)."
        ),
    )


#: for `extend_schema(parameters=…)`: the query parameters, documented from the serializer
PHOTO_FILTER_PARAMETERS = [PhotoFilterSerializer]


def plain(data) -> dict:
    """A request's query or form data as a plain dict (the last value of a repeated key).

    REST framework reads an empty form value ("?cluster=") as "not given"; the API says what
    it means instead: an empty number is not a number.
    """
    return data.dict() if hasattr(data, "dict") else dict(data)


def filter_photos(photos: QuerySet[Photo], params) -> QuerySet[Photo]:
    """`photos` narrowed by the query parameters; a bad value raises a 400 naming it."""
    query = PhotoFilterSerializer(data=plain(params))
    query.is_valid(raise_exception=True)
    data = query.validated_data
    if data.get("status"):
        photos = photos.filter(status=data["status"])
    for term in data.get("search", "").split()[:MAX_SEARCH_TERMS]:
        photos = photos.filter(Q.create([(f"{f}__icontains", term) for f in SEARCH_FIELDS], "OR"))
    if data.get("cluster") is not None:
        distance = Membership.objects.filter(
            photo=OuterRef("pk"),
            run__is_active=True,
            cluster__album_id=data["cluster"],
            cluster__album__hidden=False,
        ).values("distance")[:1]
        photos = (
            photos.alias(album_distance=Subquery(distance))
            .filter(album_distance__isnull=False)
            .order_by("album_distance", "id")
        )
    return photos
