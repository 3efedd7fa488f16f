"""Forms of the photo library's admin: the multi-file / zip upload."""

from __future__ import annotations

from django import forms

ACCEPT = ",".join(
    [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/tiff",
        ".jpg",
        ".jpeg",
        ".png",
        ".webp",
        ".tif",
        ".tiff",
        ".zip",
        "application/zip",
    ]
)


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that lets the browser send many files (Django docs: "Uploading multiple
    files")."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field whose cleaned value is a list of uploaded files."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        # An empty file must not invalidate the whole batch: ingest rejects it on its own.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_clean = super().clean
        if isinstance(data, (list, tuple)):
            files = [single_clean(item, initial) for item in data if item]
            if not files and self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return files
        cleaned = single_clean(data, initial)
        return [cleaned] if cleaned else []


class PhotoUploadForm(forms.Form):
    files = MultipleFileField(
        label="Photos",
        help_text=(
            "Choose one or many JPEG, PNG, WebP or TIFF files, or .zip archives of them. "
            "Each file is checked on its own: a bad one does not stop the others."
        ),
    )
    published = forms.BooleanField(
        label="Publish immediately",
        required=False,
        initial=True,
        help_text="Unticked, the photos are imported hidden; publish them later from the list.",
    )
