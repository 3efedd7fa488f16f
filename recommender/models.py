"""What the recommender stores: feature vectors, its settings, and index runs with neighbours."""

from __future__ import annotations

import numpy as np
from django.db import models

from photos.models import Photo


class FeatureVector(models.Model):
    """One extractor's output for one photo (float32, little-endian)."""

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="feature_vectors")
    extractor = models.CharField(max_length=32)
    version = models.PositiveSmallIntegerField()
    dim = models.PositiveIntegerField()
    data = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["photo", "extractor", "version"], name="unique_vector_per_extractor"
            )
        ]
        indexes = [models.Index(fields=["extractor", "version"])]

    def __str__(self) -> str:
        return f"{self.extractor}@{self.version} of photo {self.photo_id}"

    @property
    def array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.data), dtype="<f4")

    @staticmethod
    def encode(vector: np.ndarray) -> bytes:
        return np.ascontiguousarray(vector, dtype="<f4").tobytes()


class RecommenderSettings(models.Model):
    """The photographer's knobs (one row, edited in the admin)."""

    style_weight = models.FloatField(
        default=2.0, help_text="Weight of the hand-made style features (the research used 2)."
    )
    cnn_weight = models.FloatField(
        default=1.0,
        help_text="Weight of the CNN's style statistics (early-layer colour and texture "
        "responses); 0 leaves them out.",
    )
    content_weight = models.FloatField(
        default=0.25,
        help_text="Weight of the CNN's content embedding (what is in the picture). Keep it low "
        "to recommend by style rather than by subject; 0 leaves it out.",
    )
    cnn_enabled = models.BooleanField(
        default=True, help_text="Extract CNN features when the model is available."
    )
    cnn_pca_components = models.PositiveSmallIntegerField(
        default=32,
        help_text="Dimensions the CNN content embedding is reduced to (PCA) at index build.",
    )
    neighbours_per_photo = models.PositiveSmallIntegerField(
        default=20, help_text="How many similar photos are precomputed for each photo."
    )
    index_dirty_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when photos changed after the last index build.",
    )

    class Meta:
        verbose_name = "recommender settings"
        verbose_name_plural = "recommender settings"

    def __str__(self) -> str:
        return "Recommender settings"

    @classmethod
    def load(cls) -> RecommenderSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    def space_settings(self):
        from .blocks import SpaceSettings

        return SpaceSettings(
            style_weight=self.style_weight,
            cnn_weight=self.cnn_weight,
            content_weight=self.content_weight,
            content_pca=self.cnn_pca_components,
        )


class ClusterRun(models.Model):
    """A snapshot of the style space: which photos, how they were embedded, their neighbours.

    Readers only see the active run; a new run is written completely and then switched active in
    one transaction. (The clustering issue adds k, scores and memberships to this same record.)
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    is_active = models.BooleanField(default=False, db_index=True)
    n_photos = models.PositiveIntegerField(default=0)
    config = models.JSONField(default=dict, help_text="Extractors, versions, weights, PCA sizes.")
    space_file = models.FileField(upload_to="index/", blank=True, max_length=255)
    duration_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="one_active_run"
            )
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.status}, {self.n_photos} photos)"


class Neighbour(models.Model):
    """`neighbour` is the `rank`-th most similar photo to `photo` in `run` (rank 1 = closest)."""

    run = models.ForeignKey(ClusterRun, on_delete=models.CASCADE, related_name="neighbours")
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    neighbour = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField(help_text="Cosine similarity in the combined space (−1…1).")
    reasons = models.JSONField(default=list)

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "photo", "rank"], name="unique_neighbour_rank")
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} → {self.neighbour_id} (#{self.rank})"
