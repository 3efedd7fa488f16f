"""POST /api/similar/: the gallery's photos most like an uploaded image, and the answer shape
that every "similar photos" endpoint shares (also GET /api/photos/{id}/similar/, api/photos.py).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.throttling import SimilarUploadThrottle
from experiments.assignment import assignment_for
from experiments.strategies import recommend_for_image
from photos.imaging import ImageRejected, exif_facts
from photos.uploads import QueryBusy, open_query_image
from recommender.modes import Mode
from recommender.selectors import served_mode, similar_to_image
from recommender.services import request_recluster_if_stale

from .base import ApiViewMixin
from .errors import ServiceUnavailable
from .filters import plain
from .serializers import SimilarResponseSerializer, SimilarUploadSerializer
from .throttling import DEFAULT_THROTTLES


def similar_response(request, photo_id, variant, results, mode=Mode.DEFAULT) -> Response:
    payload = {"photo": photo_id, "mode": mode, "variant": variant, "results": results}
    return Response(SimilarResponseSerializer(payload, context={"request": request}).data)


class SimilarToUploadView(ApiViewMixin, APIView):
    """POST an image (multipart `image`, optional `k`): the gallery's photos most like it.

    The image is analysed in memory and discarded; it is never added to the gallery.
    """

    parser_classes = [MultiPartParser]  # a file: multipart/form-data only
    throttle_classes = [*DEFAULT_THROTTLES, SimilarUploadThrottle]

    @extend_schema(
        summary="Photos of a similar style to an uploaded image",
        request=SimilarUploadSerializer,
        responses=SimilarResponseSerializer,
    )
    def post(self, request):
        form = SimilarUploadSerializer(data=plain(request.data))
        form.is_valid(raise_exception=True)
        try:
            image = open_query_image(form.validated_data["image"])
        except QueryBusy as exc:
            raise ServiceUnavailable(str(exc), code="busy", wait=exc.retry_after) from exc
        except ImageRejected as exc:
            raise serializers.ValidationError({"image": [str(exc)]}) from exc
        request_recluster_if_stale()  # the list comes from the active run either way
        mode, k = served_mode(form.validated_data["mode"]), form.validated_data["k"]
        if mode != Mode.DEFAULT:  # an explicit meaning of similar: outside the experiments
            results = similar_to_image(image, k, mode, exif_facts(image))
            return similar_response(request, None, None, results, mode)
        assignment = assignment_for(request)
        results = recommend_for_image(image, assignment.strategy, k)
        return similar_response(request, None, assignment.variant, results)
