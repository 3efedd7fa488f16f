"""GET/POST /api/widget/: the recommendations of the embeddable widget
(static/widget/stylefinder-widget.js) on other websites.

Other sites' pages call this cross-origin without cookies (CORS for STYLEFINDER_WIDGET_ORIGINS,
no credentials), so the widget keeps a visitor id of its own and sends it as `visitor`: issued
and signed here in the first answer (`experiments.visitors.signed`; an id the gallery did not
sign is refused), the A/B assignment is `experiments.assign(visitor)`, sticky per widget
visitor, and the impression token is bound to that id (POST /api/events/ with the same
`visitor` reports it back).

A photo is named by its id (`?photo=`), or by the URL of one of its images in this gallery's own
media (`?image_url=`, matched against the stored file names: the server never fetches a URL).
Any other image is read by the widget in the visitor's browser and posted here (multipart
`image`, the anonymous upload throttle applies); the answer carries `ref`, a signed reference to
that result list, that `?ref=` turns into a fresh list and token without uploading again.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

from django.core import signing
from drf_spectacular.utils import OpenApiResponse, extend_schema
from PIL import Image
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.throttling import SimilarUploadThrottle
from experiments.assignment import Assignment, assign
from experiments.models import Strategy
from experiments.strategies import recommend_for_image, recommend_for_photo
from experiments.tokens import impression_token
from experiments.visitors import new_id, signed
from photos.imaging import ImageRejected
from photos.models import Photo, Rendition
from photos.renditions import SPECS
from photos.uploads import QueryBusy, open_query_image
from recommender.modes import Mode
from recommender.selectors import Recommendation, served_mode, similar_to_photo
from recommender.services import request_recluster_if_stale

from .errors import ErrorSerializer, ServiceUnavailable
from .filters import plain
from .schema import AutoSchema
from .serializers import ModeField, SignedVisitorField
from .throttling import AnonRateThrottle

SOURCE = "widget"
DEFAULT_COUNT = 6
MAX_COUNT = 24
REF_SALT = "stylefinder.widget.ref"
REF_MAX_AGE = 24 * 3600
THUMB_SIDE = next(spec.max_side for spec in SPECS if spec.name == "thumb")
# The last two segments of a media URL: the storage name of a rendition or an original.
_MEDIA_NAME = re.compile(r"(?:^|/)((?:renditions|originals)/[^/]+)$")


# --- Shapes --------------------------------------------------------------------------------------


def _visitor_field() -> SignedVisitorField:
    return SignedVisitorField(
        required=False,
        allow_blank=True,  # empty: not given
        help_text=(
            "The widget's visitor id: the `visitor` of an earlier answer (issued and signed by "
            "this gallery, kept in the embedding site's localStorage). Decides the A/B variant; "
            "the impression token is bound to it. Without it a new id is issued and returned."
        ),
    )


def _count_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_COUNT,
        default=DEFAULT_COUNT,
        help_text=f"How many photos to show (1–{MAX_COUNT}).",
    )


class WidgetQuerySerializer(serializers.Serializer):
    """One of `photo`, `image_url` and `ref` names the list (the first given wins)."""

    photo = serializers.IntegerField(
        min_value=1, required=False, help_text="The id of a public photo of this gallery."
    )
    image_url = serializers.CharField(
        max_length=2000,
        required=False,
        help_text=(
            "The URL of one of this gallery's own images (a rendition or an original). "
            "Matched against stored file names; nothing is fetched."
        ),
    )
    ref = serializers.CharField(
        max_length=4000,
        required=False,
        help_text="The `ref` of an earlier upload's answer (valid for 24 hours; else a 404).",
    )
    count = _count_field()
    visitor = _visitor_field()
    mode = ModeField(
        help_text="What similar means (the snippet's `data-mode`): `default`, `look` or `scene`, "
        "as for /api/photos/{id}/similar/. `look` and `scene` lists are not part of an "
        "experiment: their answer carries no impression token.",
    )


class WidgetUploadSerializer(serializers.Serializer):
    image = serializers.FileField(
        allow_empty_file=True,
        help_text="The image to match (JPEG, PNG, WebP or TIFF); analysed, never stored.",
    )
    count = _count_field()
    visitor = _visitor_field()


class WidgetSourceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    page_url = serializers.URLField()


class WidgetItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    thumbnail_url = serializers.URLField()
    page_url = serializers.URLField()
    width = serializers.IntegerField(help_text="Width of the thumbnail in pixels.")
    height = serializers.IntegerField(help_text="Height of the thumbnail in pixels.")
    position = serializers.IntegerField(help_text="1-based place in the list, sent with a click.")
    score = serializers.FloatField(help_text="Similarity of style (cosine, -1…1).")


class WidgetResponseSerializer(serializers.Serializer):
    photo = WidgetSourceSerializer(
        allow_null=True, help_text="The source photo; null for an uploaded image."
    )
    variant = serializers.CharField(help_text="The visitor's A/B variant.")
    visitor = serializers.CharField(
        help_text="The visitor id the list was made for, signed: send it as `visitor` from now on."
    )
    items = WidgetItemSerializer(many=True)
    impression = serializers.CharField(
        allow_blank=True,
        help_text=(
            "Signed token to post to /api/events/ once the list is seen, and with clicks; "
            "empty when there is nothing to show."
        ),
    )
    ref = serializers.CharField(
        allow_null=True,
        help_text="For an uploaded image: pass as ?ref= to show the same list again.",
    )


# --- Work ----------------------------------------------------------------------------------------


def _thumb_size(photo: Photo) -> tuple[int, int]:
    """The thumbnail's size: the photo scaled down (never up) to fit the thumbnail square."""
    width, height = photo.width, photo.height
    if width < 1 or height < 1:
        return THUMB_SIDE, THUMB_SIDE
    scale = min(1.0, THUMB_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _is_public(photo: Photo) -> bool:
    return photo.is_public


def _items(request, recommendations: list[Recommendation], exclude: int | None) -> list[dict]:
    items: list[dict] = []
    for recommendation in recommendations:
        photo = recommendation.photo
        thumbnail = recommendation.thumbnail_url
        if photo.pk == exclude or not thumbnail or not _is_public(photo):
            continue
        width, height = _thumb_size(photo)
        items.append(
            {
                "id": photo.pk,
                "title": photo.display_title,
                "thumbnail_url": request.build_absolute_uri(thumbnail),
                "page_url": request.build_absolute_uri(photo.get_absolute_url()),
                "width": width,
                "height": height,
                "position": len(items) + 1,
                "score": round(float(recommendation.score), 4),
            }
        )
    return items


def _payload(
    request,
    visitor: str,
    assignment: Assignment,
    source: Photo | None,
    items: list[dict],
    ref: str | None = None,
    *,
    tracked: bool = True,
) -> dict:
    token = ""
    if items and tracked:
        triples = [(item["id"], item["position"], item["score"]) for item in items]
        # The token is bound to the widget's own visitor id, not to a cookie of this site.
        token = impression_token(
            SimpleNamespace(visitor_id=visitor),
            assignment,
            SOURCE,
            source.pk if source else None,
            triples,
        )
    photo = None
    if source is not None:
        photo = {
            "id": source.pk,
            "title": source.display_title,
            "page_url": request.build_absolute_uri(source.get_absolute_url()),
        }
    data = {
        "photo": photo,
        "variant": assignment.variant,
        "visitor": signed(visitor),
        "items": items,
        "impression": token,
        "ref": ref,
    }
    return WidgetResponseSerializer(data).data


def photo_for_media_url(request, url: str) -> Photo | None:
    """The public photo one of whose files (a rendition or the original) this gallery serves at
    `url`, or None. Only names are compared; the URL is never fetched."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 address
        return None
    match = _MEDIA_NAME.search(unquote(parts.path))
    if match is None:
        return None
    name = match.group(1)
    rendition = (
        Rendition.objects.filter(file=name, photo__in=Photo.objects.public())
        .select_related("photo")
        .first()
    )
    if rendition is not None:
        photo, file = rendition.photo, rendition.file
    else:
        photo = Photo.objects.public().filter(original=name).first()
        if photo is None:
            return None
        file = photo.original
    # Same file name is not enough (rendition names are not random): it must be our URL for it.
    ours = urlsplit(request.build_absolute_uri(file.url))
    if (ours.netloc.lower(), ours.path) != (parts.netloc.lower(), parts.path):
        return None
    return Photo.objects.public().with_renditions().get(pk=photo.pk)


def _make_ref(items: list[dict]) -> str:
    return signing.dumps(
        {"i": [[item["id"], item["score"]] for item in items]}, salt=REF_SALT, compress=True
    )


def _recommendations_from_ref(ref: str, count: int) -> list[Recommendation]:
    try:
        listed = signing.loads(ref, salt=REF_SALT, max_age=REF_MAX_AGE)["i"]
        scores = {int(pid): float(score) for pid, score in listed}
    except signing.SignatureExpired as exc:
        raise NotFound("That list has expired: upload the image again.") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise NotFound("No such list.") from exc
    photos = Photo.objects.public().with_renditions().in_bulk(list(scores))
    out = []
    for pid, score in scores.items():
        if pid in photos and len(out) < count:
            out.append(Recommendation(photos[pid], score, len(out) + 1))
    return out


class WidgetRecommendationsView(APIView):
    """Similar-style photos for the embeddable widget."""

    authentication_classes: list = []  # called from other sites without cookies; no CSRF
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, FormParser]
    schema = AutoSchema()  # documents the API's error responses

    def get_throttles(self):
        throttles = [AnonRateThrottle()]
        if self.request.method == "POST":  # image analysis, the expensive call
            throttles.append(SimilarUploadThrottle())
        return throttles

    @extend_schema(
        summary="Recommendations for the embeddable widget",
        description=(
            "Similar-style photos for a photo (`photo`), for one of this gallery's own images "
            "(`image_url`), or again for an earlier upload (`ref`); the first of them given "
            "counts. "
            "The list follows the A/B variant of `visitor`; post `impression` back to "
            "/api/events/ with the same `visitor` once the list is seen."
        ),
        parameters=[WidgetQuerySerializer],
        responses={
            200: WidgetResponseSerializer,
            404: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "No such public photo, not an image of this gallery, an unknown or "
                    "expired `ref`, or none of the three given."
                ),
            ),
        },
    )
    def get(self, request):
        query = WidgetQuerySerializer(data=plain(request.query_params))
        query.is_valid(raise_exception=True)
        data = query.validated_data
        visitor = data.get("visitor") or new_id()
        count = data["count"]
        assignment = assign(visitor)
        if data.get("photo") is not None:
            photo = Photo.objects.public().with_renditions().filter(pk=data["photo"]).first()
            if photo is None:
                raise NotFound("No public photo with that id.")
        elif data.get("image_url"):
            photo = photo_for_media_url(request, data["image_url"])
            if photo is None:
                raise NotFound("That address is not an image of this gallery.")
        elif data.get("ref"):
            recommendations = _recommendations_from_ref(data["ref"], count)
            if assignment.strategy == Strategy.NONE:
                recommendations = []
            items = _items(request, recommendations, None)
            return Response(_payload(request, visitor, assignment, None, items, data["ref"]))
        else:
            # Nothing named, nothing found (all three are optional in the schema's terms).
            raise NotFound("Name a photo: give photo, image_url or ref.")
        request_recluster_if_stale()  # the list comes from the active run either way
        mode = served_mode(data["mode"])
        if mode != Mode.DEFAULT:  # the embedder's explicit meaning: outside the experiments
            recommendations = similar_to_photo(photo, count + 1, mode)
            items = _items(request, recommendations, photo.pk)[:count]
            return Response(_payload(request, visitor, assignment, photo, items, tracked=False))
        recommendations = recommend_for_photo(photo, assignment.strategy, count)
        items = _items(request, recommendations, photo.pk)[:count]
        return Response(_payload(request, visitor, assignment, photo, items))

    @extend_schema(
        summary="Recommendations for the embeddable widget, for an uploaded image",
        description=(
            "The widget posts an image of the embedding site (multipart `image`) that is not "
            "part of this gallery. It is analysed in memory and discarded. The answer's `ref` "
            "shows the same list again with GET ?ref= without uploading it again."
        ),
        request={"multipart/form-data": WidgetUploadSerializer},
        responses={200: WidgetResponseSerializer},
    )
    def post(self, request):
        form = WidgetUploadSerializer(data=plain(request.data))
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            image = open_query_image(data["image"])
        except QueryBusy as exc:
            raise ServiceUnavailable(str(exc), code="busy", wait=exc.retry_after) from exc
        except ImageRejected as exc:
            raise ValidationError({"image": [str(exc)]}) from exc
        except Image.DecompressionBombError as exc:
            raise ValidationError({"image": ["The image is too large to process safely."]}) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValidationError({"image": ["The image could not be read."]}) from exc
        visitor = data.get("visitor") or new_id()
        assignment = assign(visitor)
        request_recluster_if_stale()  # the list comes from the active run either way
        recommendations = recommend_for_image(image, assignment.strategy, data["count"])
        items = _items(request, recommendations, None)[: data["count"]]
        ref = _make_ref(items) if items else None
        return Response(_payload(request, visitor, assignment, None, items, ref))
