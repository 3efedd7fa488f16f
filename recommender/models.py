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

    class Algorithm(models.TextChoices):
        KMEANS = "kmeans", "k-means"
        WARD = "ward", "Agglomerative (Ward)"

    algorithm = models.CharField(
        max_length=10,
        choices=Algorithm.choices,
        default=Algorithm.KMEANS,
        help_text="How photos are grouped into albums.",
    )
    cluster_count = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Number of albums. Leave empty for automatic: the k with the best silhouette "
        "in the range below.",
    )
    k_min = models.PositiveSmallIntegerField(default=2, help_text="Automatic k: smallest k tried.")
    k_max = models.PositiveSmallIntegerField(default=20, help_text="Automatic k: largest k tried.")
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
    """A snapshot of the style space: which photos, how they were embedded, their neighbours,
    and how they were grouped into clusters (albums).

    Readers only see the active run; a new run is written completely and then switched active in
    one transaction.
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    is_active = models.BooleanField(default=False, db_index=True)
    n_photos = models.PositiveIntegerField(default=0)
    k = models.PositiveSmallIntegerField(null=True, blank=True)
    algorithm = models.CharField(max_length=10, blank=True)
    silhouette = models.FloatField(null=True, blank=True)
    wcss = models.FloatField("WCSS", null=True, blank=True)
    stability = models.FloatField(
        null=True, blank=True, help_text="Mean adjusted Rand index over bootstrap re-fits."
    )
    sweep = models.JSONField(
        default=list, blank=True, help_text="Automatic k: silhouette and WCSS for every k tried."
    )
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


class Album(models.Model):
    """A public album: the lasting identity of a cluster across runs.

    Each run's clusters are matched to the previous run's by membership overlap; a matched cluster
    keeps its album, so the photographer's title and visibility survive re-clustering.
    """

    title = models.CharField(
        max_length=120, blank=True, help_text="The photographer's name for it (blank: automatic)."
    )
    auto_name = models.CharField(max_length=120, blank=True, editable=False)
    hidden = models.BooleanField(default=False, help_text="Hidden albums are not shown publicly.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("gallery:album", args=[self.pk])

    @property
    def name(self) -> str:
        return self.title or self.auto_name or f"Album {self.pk}"


class Cluster(models.Model):
    """One cluster of one run; `album` carries its public identity."""

    run = models.ForeignKey(ClusterRun, on_delete=models.CASCADE, related_name="clusters")
    label = models.PositiveSmallIntegerField()
    album = models.ForeignKey(Album, on_delete=models.SET_NULL, null=True, related_name="clusters")
    size = models.PositiveIntegerField(default=0)
    cover = models.ForeignKey(
        Photo,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The photo nearest the centroid.",
    )
    attributes = models.JSONField(default=list, help_text="Dominant style attributes.")

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["run", "label"], name="unique_cluster_label")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} cluster {self.label}"


class Membership(models.Model):
    """`photo` belongs to `cluster` in `run`, at `distance` from its centroid."""

    run = models.ForeignKey(ClusterRun, on_delete=models.CASCADE, related_name="memberships")
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="memberships")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="memberships")
    distance = models.FloatField()

    class Meta:
        ordering = ["distance"]
        constraints = [models.UniqueConstraint(fields=["run", "photo"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.photo_id} in {self.cluster_id}"


class Strategy(models.TextChoices):
    """What a variant shows under a photo (recommender/strategies.py)."""

    STYLE_KNN = "style_knn", "Nearest in style"
    CLUSTER = "cluster", "Same album, nearest first"
    POPULAR = "popular", "Most clicked recently"
    RANDOM = "random", "Random photos"
    NONE = "none", "No recommendations"


class Experiment(models.Model):
    """An A/B test: visitors are split between variants by a stable hash of their cookie id."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(
        default=False, help_text="Only one experiment is active at a time."
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_experiment",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def is_running(self, now=None) -> bool:
        from django.utils import timezone

        now = now or timezone.now()
        return (
            self.is_active
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


class Variant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.SlugField(max_length=40, help_text="Shown in reports, e.g. 'control'.")
    strategy = models.CharField(max_length=20, choices=Strategy.choices)
    weight = models.FloatField(default=1.0, help_text="Share of visitors, relative to the others.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="unique_variant_name"),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0), name="variant_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.strategy})"


class Impression(models.Model):
    """A recommendation list a visitor's browser actually showed (reported by JavaScript)."""

    token = models.UUIDField(unique=True)
    visitor_id = models.CharField(max_length=64, db_index=True)
    visit_id = models.CharField(max_length=64, db_index=True, blank=True)
    experiment = models.ForeignKey(
        Experiment, on_delete=models.SET_NULL, null=True, blank=True, related_name="impressions"
    )
    variant = models.CharField(max_length=40, db_index=True)
    strategy = models.CharField(max_length=20)
    source = models.CharField(max_length=20, help_text="photo page, upload or widget")
    source_photo = models.ForeignKey(
        Photo, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    items = models.JSONField(default=list, help_text='[{"photo", "position", "score"}, …]')
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"impression {self.token} ({self.variant})"


class Click(models.Model):
    impression = models.ForeignKey(Impression, on_delete=models.CASCADE, related_name="clicks")
    visitor_id = models.CharField(max_length=64, db_index=True)
    visit_id = models.CharField(max_length=64, blank=True)
    variant = models.CharField(max_length=40, db_index=True)
    target = models.ForeignKey(Photo, on_delete=models.SET_NULL, null=True, related_name="+")
    position = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["impression", "position"], name="one_click_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"click {self.impression_id}#{self.position}"


class PageTime(models.Model):
    """Time a visitor spent on one page view (beacon on pagehide/visibilitychange)."""

    visitor_id = models.CharField(max_length=64, db_index=True)
    visit_id = models.CharField(max_length=64, db_index=True)
    experiment = models.ForeignKey(
        Experiment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    variant = models.CharField(max_length=40, db_index=True)
    path = models.CharField(max_length=300)
    page_view = models.UUIDField(help_text="One page view; repeated beacons update its time.")
    seconds = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page_view"], name="one_row_per_view")]

    def __str__(self) -> str:
        return f"{self.path}: {self.seconds:.0f}s"
