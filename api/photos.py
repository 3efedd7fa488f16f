"""/api/photos/: the photo library (list, detail, staff upload) and each photo's similar
photos (GET /api/photos/{id}/similar/)."""

from __future__ import annotations

import os

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404  # a malformed id is a 404 too
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response

from experiments.assignment import assignment_for
from experiments.strategies import recommend_for_photo
from photos.models import Photo
from photos.services import DuplicatePhoto, IngestError, PhotoRejected, ingest_photo
from photos.signals import announce_settled
from recommender.albums import with_album
from recommender.modes import Mode
from recommender.selectors import served_mode, similar_to_photo
from recommender.services import request_recluster_if_stale

from .answer_cache import answer_key, cached_answer, keep_answer
from .base import ApiViewMixin
from .errors import Conflict, DuplicateErrorSerializer, ErrorSerializer, ServiceUnavailable
from .filters import PHOTO_FILTER_PARAMETERS, filter_photos, plain
from .serializers import (
    PhotoSerializer,
    PhotoUploadSerializer,
    SimilarQuerySerializer,
    SimilarResponseSerializer,
)
from .similar import similar_response


def visible_photos(request):
    """Visitors see what the gallery shows (published and ready); staff see every photo."""
    photos = with_album(Photo.objects.with_renditions()).order_by("-created_at", "-id")
    if not (request.user.is_authenticated and request.user.is_staff):
        photos = photos.public()
    return photos


@extend_schema_view(
    list=extend_schema(
        summary="Photos, newest first (filter by album, status, words)",
        parameters=PHOTO_FILTER_PARAMETERS,
    ),
    retrieve=extend_schema(summary="One photo"),
)
class PhotoViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Photos in the library. Visitors see the public gallery (published, processed photos);
    staff see every photo, and may upload."""

    serializer_class = PhotoSerializer
    lookup_value_regex = r"[0-9]+"
    parser_classes = [MultiPartParser]  # only the upload has a body: a file

    def get_queryset(self):
        photos = visible_photos(self.request)
        if self.action == "list":
            photos = filter_photos(photos, self.request.query_params)
        return photos

    def get_permissions(self):
        if self.action == "create":
            return [IsAdminUser()]
        return [AllowAny()]

    @extend_schema(
        summary="Upload a photo (staff)",
        request=PhotoUploadSerializer,
        responses={
            201: PhotoSerializer,
            409: OpenApiResponse(
                DuplicateErrorSerializer,
                description="The same image is already in the library (`existing` is its id).",
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="The media storage could not take the file; nothing was stored.",
            ),
        },
        parameters=[
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                response=[201],
                description="The new photo in the API.",
            )
        ],
    )
    def create(self, request):
        """Add a photo to the library, exactly as an upload in the admin does.

        The image is validated (format, size, pixels) and stored with status `pending`; it is
        processed (renditions, style features, albums) right after, and becomes visible to
        visitors once `ready` (if published). Authenticate with `Authorization: Token KEY`.
        """
        form = PhotoUploadSerializer(data=plain(request.data))
        form.is_valid(raise_exception=True)
        data = form.validated_data
        upload = data["image"]
        name = os.path.basename(upload.name or "photo")
        try:
            photo = ingest_photo(
                upload,
                original_filename=name,
                title=data.get("title") or None,
                description=data.get("description", ""),
                published=data["published"],
            )
        except PhotoRejected as exc:
            message = str(exc).removeprefix(f"{name}: ")
            raise serializers.ValidationError({"image": [message]}) from exc
        except DuplicatePhoto as exc:
            raise Conflict(str(exc), code="duplicate", existing=exc.existing.pk) from exc
        except IngestError as exc:  # the media storage could not take it: try again later
            raise ServiceUnavailable(str(exc), code="storage_unavailable") from exc
        announce_settled()  # the embedded default re-clusters before answering
        photo = visible_photos(request).get(pk=photo.pk)  # as processed so far, with its album
        body = self.get_serializer(photo).data
        location = request.build_absolute_uri(reverse("api:photo-detail", args=[photo.pk]))
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(
        summary="Photos of a similar style",
        parameters=[SimilarQuerySerializer],
        responses=SimilarResponseSerializer,
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def similar(self, request, pk=None):
        """The photos most similar to this one (`?k=`, default 10), best first: with the default
        `mode`, as the visitor's A/B variant chooses them (`variant`); `?mode=look` or
        `?mode=scene` for the look alone or the scene."""
        query = SimilarQuerySerializer(data=plain(request.query_params))
        query.is_valid(raise_exception=True)
        request_recluster_if_stale()  # the list comes from the active run either way
        mode, k = served_mode(query.validated_data["mode"]), query.validated_data["k"]
        assignment = assignment_for(request) if mode == Mode.DEFAULT else None
        variant = (assignment.experiment_id, assignment.variant) if assignment else None
        strategy = assignment.strategy if assignment else None
        key = answer_key(request, "similar", pk, k, mode, variant, strategy=strategy)
        cached = cached_answer(key)
        if cached is not None:
            return Response(cached)
        photo = get_object_or_404(visible_photos(request), pk=pk)
        if assignment is None:  # an explicit meaning of similar: outside the experiments
            results = similar_to_photo(photo, k, mode)
            response = similar_response(request, photo.pk, None, results, mode)
        else:
            results = recommend_for_photo(photo, assignment.strategy, k)
            response = similar_response(request, photo.pk, assignment.variant, results)
        keep_answer(key, response.data)
        return response
