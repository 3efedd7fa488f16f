"""Forms of the public site: "find photos like yours" (a visitor's photo, analysed, never kept)
and the embeddable widget's snippet generator."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.validators import URLValidator
from PIL import Image

from photos.imaging import FORMAT_NAMES, ImageRejected
from photos.models import Photo
from photos.uploads import QueryBusy, open_query_image
from recommender.modes import Mode, parse_mode
from recommender.selectors import mode_settings


class FindSimilarForm(forms.Form):
    """One image file. Valid means: accepted by the same checks as ingest and decoded.

    The decoded, downscaled image is `query_image` after `is_valid()`; the upload itself is never
    saved (Django keeps it in memory, or for large files in a temporary file that it deletes at the
    end of the request).
    """

    image = forms.FileField(
        label="Your photo",
        # Emptiness, size and format are checked by `open_query_image`, with the messages that
        # ingest gives, so an empty file is not refused here with a different wording.
        allow_empty_file=True,
        error_messages={
            "required": "Choose a photo to upload.",
            "invalid": "No file was received. Please choose a photo and try again.",
            "missing": "No file was received. Please choose a photo and try again.",
        },
        widget=forms.FileInput(attrs={"accept": "image/*"}),
    )

    mode = forms.ChoiceField(
        label="Find",
        choices=[
            (Mode.DEFAULT.value, "Similar style"),
            (Mode.LOOK.value, "The same look, any subject"),
            (Mode.SCENE.value, "The same subject or scene"),
        ],
        required=False,
        initial=Mode.DEFAULT.value,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.query_image: Image.Image | None = None
        # Only the modes the photographer offers (a turned-off one posted anyway is refused,
        # with the choices that remain).
        offered = mode_settings().offered
        mode = self.fields["mode"]
        mode.choices = [(value, label) for value, label in mode.choices if value in offered]
        # Megabytes as the ingest messages count them (10^6 bytes), so the two always agree.
        limit_mb = settings.STYLEFINDER_MAX_UPLOAD_BYTES / 1e6
        self.fields["image"].help_text = f"{FORMAT_NAMES}, up to {limit_mb:.0f} MB."

    def clean_image(self):
        upload = self.cleaned_data["image"]
        try:
            self.query_image = open_query_image(upload)
        except QueryBusy as exc:  # not the file's fault: the view answers 503
            raise forms.ValidationError(str(exc), code="busy") from exc
        except ImageRejected as exc:
            raise forms.ValidationError(str(exc), code="rejected") from exc
        except Image.DecompressionBombError as exc:  # subclass of Exception, not of ValueError
            raise forms.ValidationError(
                "The image is too large to process safely (a 'decompression bomb').",
                code="rejected",
            ) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            # inspect_image accepted the file but decoding the copy failed: still the file's fault.
            raise forms.ValidationError(
                f"The image could not be read. Please try a {FORMAT_NAMES} file.",
                code="unreadable",
            ) from exc
        return upload

    def clean_mode(self) -> Mode:
        return parse_mode(self.cleaned_data.get("mode"))


# --- The embeddable widget's snippet generator ---------------------------------------------------

WIDGET_DEFAULT_COUNT = 6
WIDGET_MAX_COUNT = 24
WIDGET_DEFAULT_TITLE = "Similar style"
WIDGET_PHOTO_CHOICES = 200  # the newest public photos offered in the select


class WidgetSnippetForm(forms.Form):
    """What the /widget/ page's generator asks (a GET form: the snippet is rendered by the
    server, no script needed). `photo` is any public photo's id; the select offers the newest."""

    photo = forms.IntegerField(
        label="Photo",
        min_value=1,
        widget=forms.Select,
        error_messages={
            "required": "Choose a photo.",
            "invalid": "A photo is chosen by its number (its id).",
        },
    )
    count = forms.IntegerField(
        label="Number of photos",
        min_value=1,
        max_value=WIDGET_MAX_COUNT,
        initial=WIDGET_DEFAULT_COUNT,
        help_text=f"1 to {WIDGET_MAX_COUNT}.",
    )
    link = forms.CharField(
        label="Link pattern",
        required=False,
        max_length=500,
        help_text=(
            "Optional: where a photo links to, with {id} for its id, e.g. "
            "https://your-site.example/photos/{id}. Empty: its page in this gallery."
        ),
        widget=forms.TextInput(attrs={"placeholder": "https://your-site.example/photos/{id}"}),
    )
    title = forms.CharField(
        label="Heading",
        required=False,
        max_length=80,
        initial=WIDGET_DEFAULT_TITLE,
        help_text="Empty: no heading.",
    )

    def __init__(self, *args, site_origin: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A full link may only point at this gallery or a site allowed to embed the widget: the
        # page's live example is on this gallery's domain, and must not send visitors anywhere
        # a crafted /widget/?link=... chooses.
        origins = [site_origin, *settings.STYLEFINDER_WIDGET_ORIGINS]
        self.link_origins = [o.lower().rstrip("/") for o in origins if o]
        self._public = Photo.objects.public().order_by("-created_at", "-id")
        newest = list(self._public.only("id", "title", "original_filename")[:WIDGET_PHOTO_CHOICES])
        chosen = self.data.get("photo") if self.is_bound else None
        if chosen and str(chosen).isdigit() and all(str(p.pk) != chosen for p in newest):
            extra = self._public.filter(pk=int(chosen)).first()
            if extra is not None:
                newest.insert(0, extra)
        self.fields["photo"].widget.choices = [
            (photo.pk, f"{photo.display_title} (#{photo.pk})") for photo in newest
        ]
        self.photo = None  # the chosen Photo after is_valid()

    def clean_photo(self):
        pk = self.cleaned_data["photo"]
        self.photo = self._public.filter(pk=pk).first()
        if self.photo is None:
            raise forms.ValidationError(
                f"There is no public photo number {pk}. Choose one of the gallery's photos.",
                code="unknown",
            )
        return pk

    def clean_link(self):
        link = self.cleaned_data["link"].strip()
        if not link:
            return ""
        if "{id}" not in link:
            raise forms.ValidationError(
                "Put {id} where the photo's id goes, e.g. https://your-site.example/photos/{id}.",
                code="no_placeholder",
            )
        example = link.replace("{id}", "1")
        if not example.startswith("/") or example.startswith("//"):
            try:
                URLValidator(schemes=["http", "https"])(example)
            except forms.ValidationError as exc:
                raise forms.ValidationError(
                    "Give a full http(s) address, or a path starting with /.", code="bad_url"
                ) from exc
            parts = urlsplit(example)
            if f"{parts.scheme}://{parts.netloc}".lower() not in self.link_origins:
                allowed = ", ".join(self.link_origins) or "none"
                raise forms.ValidationError(
                    f"Links may go to this gallery or to a site allowed to embed the widget "
                    f"(STYLEFINDER_WIDGET_ORIGINS: {allowed}); add your site there first.",
                    code="foreign_origin",
                )
        return link
