"""Thin API views: validate, call a strategy, serialise."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from photos.imaging import ImageRejected
from photos.models import Photo

from ..albums import with_album
from ..experiments import assignment_for
from ..strategies import recommend_for_image, recommend_for_photo
from ..uploads import open_query_image
from .serializers import (
    PhotoSerializer,
    SimilarQuerySerializer,
    SimilarResponseSerializer,
    SimilarUploadSerializer,
)


def visible_photos(request):
    """Visitors see what the gallery shows (published and ready); staff see every photo."""
    photos = with_album(Photo.objects.with_renditions()).order_by("-created_at", "-id")
    if not (request.user.is_authenticated and request.user.is_staff):
        photos = photos.public()
    return photos


def similar_response(request, photo_id, variant, results) -> Response:
    payload = {"photo": photo_id, "variant": variant, "results": results}
    return Response(SimilarResponseSerializer(payload, context={"request": request}).data)


class PhotoViewSet(viewsets.ReadOnlyModelViewSet):
    """Photos in the library. Visitors see the public gallery; staff see every photo."""

    serializer_class = PhotoSerializer

    def get_queryset(self):
        return visible_photos(self.request)

    @action(detail=True, methods=["get"])
    def similar(self, request, pk=None):
        """The photos most similar in style to this one (`?k=`, default 10)."""
        photo = get_object_or_404(visible_photos(request), pk=pk)
        query = SimilarQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        assignment = assignment_for(request)
        results = recommend_for_photo(photo, assignment.strategy, query.validated_data["k"])
        return similar_response(request, photo.pk, assignment.variant, results)


class SimilarToUploadView(APIView):
    """POST an image (multipart `image`, optional `k`): the gallery's photos most like it.

    The image is analysed in memory and discarded; it is never added to the gallery.
    """

    parser_classes = [MultiPartParser, FormParser]

    def post(self, request):
        form = SimilarUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            image = open_query_image(form.validated_data["image"])
        except ImageRejected as exc:
            return Response({"image": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        assignment = assignment_for(request)
        results = recommend_for_image(image, assignment.strategy, form.validated_data["k"])
        return similar_response(request, None, assignment.variant, results)
