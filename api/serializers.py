"""JSON shapes of the public API (DESIGN.md §6)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from experiments.visitors import SIGNED_ID_PATTERN, unsigned
from photos.models import Photo
from recommender.albums import album_from_annotations
from recommender.modes import MODE_CHOICES, Mode
from recommender.selectors import Recommendation


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


@extend_schema_field(
    {"type": "string", "pattern": "^(" + "|".join(mode.value for mode in Mode) + ")$"}
)
class ModeField(serializers.ChoiceField):
    """`?mode=` / a form's `mode`: a `recommender.modes.Mode`; missing = the default.

    Its schema is a pattern, not an enum: drf-spectacular turns every enum into a shared
    component, and a reference inside a multipart body is one that clients (and schemathesis)
    cannot resolve.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("default", Mode.DEFAULT.value)
        super().__init__(choices=MODE_CHOICES, **kwargs)

    def to_internal_value(self, data) -> Mode:
        return Mode(super().to_internal_value(data))


class SignedVisitorField(serializers.RegexField):
    """The widget's `visitor`: an id this gallery issued and signed (the `visitor` of an earlier
    answer), read as the bare id. One the client made up is refused: it would let a client
    choose its A/B variant."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages",
            {"invalid": "visitor must be an id this gallery issued; leave it out to get one."},
        )
        super().__init__(SIGNED_ID_PATTERN, **kwargs)

    def run_validation(self, data=empty):
        # After the pattern (which the signed form must match), the bare id.
        value = super().run_validation(data)
        if value in ("", None):
            return value
        visitor = unsigned(value)
        if visitor is None:
            self.fail("invalid")
        return visitor


class SimilarQuerySerializer(serializers.Serializer):
    k = serializers.IntegerField(
        min_value=1,
        default=10,
        help_text="How many photos (at most STYLEFINDER_MAX_SIMILAR, 50 by default).",
    )

    mode = ModeField(
        help_text="What similar means: `default` (the site's list: look first, then subject, as "
        "the visitor's A/B variant chooses it), `look` (the same grade, whatever the subject) "
        "or `scene` (the same subject and shoot: content, then EXIF time, camera and lens). "
        "`look` and `scene` answer outside any experiment (`variant` is null). Without the "
        "CNN a gallery cannot see scenes: `scene` is then answered with the default list, and "
        "the answer's `mode` says so.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["k"].max_value = settings.STYLEFINDER_MAX_SIMILAR  # for the schema

    def validate_k(self, value: int) -> int:
        limit = settings.STYLEFINDER_MAX_SIMILAR
        if value > limit:
            raise serializers.ValidationError(f"k must be at most {limit}.")
        return value


class SimilarUploadSerializer(SimilarQuerySerializer):
    image = serializers.FileField(
        allow_empty_file=True,  # "The file is empty." comes from the image checks
        help_text="A JPEG, PNG, WebP or TIFF image; analysed, never stored.",
    )


class FormTextField(serializers.CharField):
    """Text from a form: its length is checked as sent, then NUL characters (which no database
    column stores) are dropped and surrounding whitespace trimmed."""

    def run_validation(self, data=empty):
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        if isinstance(data, str):
            data = data.replace("\x00", "")
        return super().run_validation(data)


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false` (a JSON boolean, or the word in a form); "1", "on", "yes" are refused
    rather than guessed at, as the schema says."""

    def to_internal_value(self, data):
        if data is True or data == "true":
            return True
        if data is False or data == "false":
            return False
        self.fail("invalid", input=data)


class PhotoUploadSerializer(serializers.Serializer):
    image = serializers.FileField(
        allow_empty_file=True,  # "The file is empty." comes from the image checks
        help_text="The original: JPEG, PNG, WebP or TIFF, within the size and pixel limits.",
    )
    title = FormTextField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Blank or left out: made from the file name.",
    )
    description = FormTextField(required=False, allow_blank=True, default="")
    published = StrictBooleanField(
        default=True, help_text="Shown to visitors once processed (default true)."
    )


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
    mode = ModeField(help_text="The mode the list was made in (see the `mode` parameter).")
    variant = serializers.CharField(
        allow_null=True, help_text="The visitor's A/B variant; null for `look` and `scene`."
    )
    results = RecommendationSerializer(many=True)
