"""Forms of the public site: "find photos like yours" (a visitor's photo, analysed, never kept)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from PIL import Image

from photos.imaging import FORMAT_NAMES, ImageRejected
from recommender.uploads import open_query_image


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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.query_image: Image.Image | None = None
        # Megabytes as the ingest messages count them (10^6 bytes), so the two always agree.
        limit_mb = settings.STYLEFINDER_MAX_UPLOAD_BYTES / 1e6
        self.fields["image"].help_text = f"{FORMAT_NAMES}, up to {limit_mb:.0f} MB."

    def clean_image(self):
        upload = self.cleaned_data["image"]
        try:
            self.query_image = open_query_image(upload)
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
