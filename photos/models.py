"""The photo library: one `Photo` per original, `Rendition`s derived from it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse


class PhotoQuerySet(models.QuerySet):
    def public(self) -> PhotoQuerySet:
        """What visitors may see: published photos whose renditions exist."""
        return self.filter(Photo.public_q())

    def with_renditions(self) -> PhotoQuerySet:
        return self.prefetch_related("renditions")

    def awaiting_processing(self) -> PhotoQuerySet:
        """Pending photos handed to the task queue (or being processed now). A pending photo
        whose hand-over failed carries `photos.queueing.NOT_QUEUED` as its error instead."""
        return self.filter(status=Photo.Status.PENDING, error="")


class Photo(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    # The photographer's file, byte for byte, under a random name in the default storage.
    original = models.FileField(upload_to="originals/", max_length=255)
    original_filename = models.CharField(max_length=255)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    published = models.BooleanField(default=True, db_index=True)

    sha256 = models.CharField("SHA-256", max_length=64, unique=True, editable=False)
    file_size = models.PositiveBigIntegerField(default=0, editable=False)
    image_format = models.CharField(max_length=16, blank=True, editable=False)
    # Dimensions as displayed, i.e. after EXIF orientation.
    width = models.PositiveIntegerField(default=0, editable=False)
    height = models.PositiveIntegerField(default=0, editable=False)

    taken_at = models.DateTimeField("captured", null=True, blank=True)
    camera_make = models.CharField(max_length=100, blank=True)
    camera_model = models.CharField(max_length=100, blank=True)
    lens = models.CharField(max_length=150, blank=True)
    focal_length_mm = models.FloatField("focal length (mm)", null=True, blank=True)
    aperture = models.FloatField("aperture (f-number)", null=True, blank=True)
    exposure_time = models.CharField("exposure time", max_length=32, blank=True)
    iso = models.PositiveIntegerField("ISO", null=True, blank=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField(blank=True, help_text="Why processing failed, if it did.")
    processed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PhotoQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["published", "status", "-created_at"])]

    def __str__(self) -> str:
        return self.display_title

    def get_absolute_url(self) -> str:
        return reverse("gallery:photo", args=[self.pk])

    # --- The one "public photo" rule -------------------------------------------------------------
    # Visitors see a photo once it is published and processed (its renditions exist). Everything
    # that decides what is public asks here: `Photo.objects.public()` for photos,
    # `Photo.public_q("photo__")` through a relation, `photo.is_public` for one loaded photo.

    @classmethod
    def public_fields(cls) -> dict[str, object]:
        """The rule as field values: every one must hold for a photo to be public."""
        return {"published": True, "status": cls.Status.READY}

    @classmethod
    def public_q(cls, prefix: str = "") -> Q:
        """The rule as a `Q`, applied through a relation with `prefix` (e.g. ``"neighbour__"``)."""
        return Q(**{f"{prefix}{field}": value for field, value in cls.public_fields().items()})

    @property
    def is_public(self) -> bool:
        """Whether visitors may see this photo (the same rule as `Photo.objects.public()`)."""
        return all(getattr(self, field) == value for field, value in self.public_fields().items())

    @property
    def display_title(self) -> str:
        return self.title or self.original_filename or f"Photo {self.pk}"

    @property
    def alt_text(self) -> str:
        return (
            self.description.strip().splitlines()[0]
            if self.description.strip()
            else (self.display_title)
        )

    @property
    def orientation(self) -> str:
        if self.width > self.height:
            return "landscape"
        if self.height > self.width:
            return "portrait"
        return "square"

    def rendition(self, spec: str) -> Rendition | None:
        """The rendition for `spec`, using prefetched renditions when they were loaded."""
        for rendition in self.renditions.all():
            if rendition.spec == spec:
                return rendition
        return None

    def rendition_url(self, spec: str) -> str | None:
        rendition = self.rendition(spec)
        return rendition.file.url if rendition else None

    @property
    def exif_summary(self) -> list[tuple[str, str]]:
        """Label/value pairs of the capture data that is present, for display."""
        rows: list[tuple[str, str]] = []
        camera = " ".join(
            part
            for part in (self.camera_make, self.camera_model)
            if part and not (part == self.camera_make and self.camera_model.startswith(part))
        )
        if camera:
            rows.append(("Camera", camera))
        if self.lens:
            rows.append(("Lens", self.lens))
        if self.focal_length_mm:
            rows.append(("Focal length", f"{self.focal_length_mm:g} mm"))
        if self.aperture:
            rows.append(("Aperture", f"f/{self.aperture:g}"))
        if self.exposure_time:
            rows.append(("Exposure", f"{self.exposure_time} s"))
        if self.iso:
            rows.append(("ISO", str(self.iso)))
        return rows


class Rendition(models.Model):
    """A resized, sRGB, EXIF-oriented copy of a photo for the web (one per spec)."""

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="renditions")
    spec = models.CharField(max_length=32)
    file = models.FileField(upload_to="renditions/", max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["photo", "spec"], name="unique_rendition_per_spec")
        ]

    def __str__(self) -> str:
        return f"{self.photo_id}:{self.spec}"


class OrphanedFile(models.Model):
    """A media file whose row is gone but which could not be deleted from the storage.

    Rows are deleted even when the storage is down (the library stays consistent); their files
    are recorded here, shown in the admin and deleted again from there.
    """

    name = models.CharField(max_length=1024, unique=True)
    reason = models.CharField(max_length=255, blank=True, help_text="Why it was to be deleted.")
    error = models.TextField(blank=True, help_text="Why the last deletion failed.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name
