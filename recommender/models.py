"""What the recommender stores: feature vectors, its settings, and index runs with neighbours."""

from __future__ import annotations

import numpy as np
from django.core.cache import cache
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from config import private_storage
from photos.models import Photo

from .modes import Mode, ModeSettings

#: the cache key of `ModeSettings` (read on every similar list; dropped when the row is saved)
MODE_SETTINGS_CACHE_KEY = "recommender.mode_settings"


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

    look_weight = models.FloatField(
        default=1.0,
        help_text="Weight of the learned look metric: the style features (and the CNN's "
        "statistics) projected so that photos in the same look are near and the same scene in "
        "another look is far. The default list is built on it; 0 leaves it out.",
    )
    style_weight = models.FloatField(
        default=0.0,
        help_text="Extra weight of the raw hand-made style features (tone, colour, texture; "
        "before the look metric the site used 2).",
    )
    cnn_weight = models.FloatField(
        default=0.0,
        help_text="Extra weight of the CNN's raw style statistics (early-layer colour and "
        "texture responses; before the look metric the site used 1); 0 leaves them out.",
    )
    content_weight = models.FloatField(
        default=0.05,
        help_text="Weight of the CNN's content embedding (what is in the picture): subject "
        "second, after the look. Keep it low to recommend by style rather than by subject; 0 "
        "leaves it out (and the scene mode with it).",
    )
    copy_threshold = models.FloatField(
        null=True,
        blank=True,
        default=0.7,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        verbose_name="other edits last above",
        help_text="Another edit of the same photo (black & white, sepia, a crop: the CNN's "
        "content embeddings this close, cosine 0–1) is listed after every other photo in the "
        "similar-style and look lists, which are about the look; the scene mode keeps it. "
        "Empty: rank it like any photo.",
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
        help_text="Number of albums. Leave empty for automatic: the largest k in the range below "
        "whose silhouette is within 10 % of the best.",
    )
    k_min = models.PositiveSmallIntegerField(default=2, help_text="Automatic k: smallest k tried.")
    k_max = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Automatic k: largest k tried. Empty: grows with the gallery (√photos, between "
        "4 and 60).",
    )
    look_mode = models.BooleanField(
        default=True,
        verbose_name="offer the look mode",
        help_text="Let visitors and other sites ask for the same look, whatever the subject "
        "(?mode=look on the API and the widget, a choice on /similar/). Off: such a request is "
        "answered with the default list, and the answer's mode says so.",
    )
    scene_mode = models.BooleanField(
        default=True,
        verbose_name="offer the scene mode",
        help_text="Let visitors and other sites ask for the same subject and shoot (?mode=scene: "
        "CNN content, then EXIF capture time, camera and lens). Needs the CNN's content "
        "embedding; off, or without it, the default list answers.",
    )
    same_scene_strip = models.BooleanField(
        default=True,
        verbose_name="show a 'Same scene' strip",
        help_text="On photo pages, below the similar-style strip, where the scene mode finds at "
        "least two photos the strip above does not show. Needs the scene mode.",
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

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        cache.delete(MODE_SETTINGS_CACHE_KEY)

    @classmethod
    def load(cls) -> RecommenderSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    def mode_settings(self) -> ModeSettings:
        offered = {Mode.DEFAULT}
        if self.look_mode:
            offered.add(Mode.LOOK)
        if self.scene_mode:
            offered.add(Mode.SCENE)
        return ModeSettings(
            offered=frozenset(offered), same_scene_strip=self.scene_mode and self.same_scene_strip
        )

    def space_settings(self):
        from .blocks import SpaceSettings

        return SpaceSettings(
            look_weight=self.look_weight,
            style_weight=self.style_weight,
            cnn_weight=self.cnn_weight,
            content_weight=self.content_weight,
            content_pca=self.cnn_pca_components,
            copy_threshold=self.copy_threshold,
        )


def index_storage():
    """`STORAGES["index"]`: index files are never public (config/private_storage.py)."""
    return private_storage.index_storage


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
    n_photos = models.PositiveIntegerField(default=0, help_text="Photos the run was built on.")
    added_photos = models.PositiveIntegerField(
        default=0,
        help_text="Photos that joined the run after it was built (incremental adds); the next "
        "full re-fit comes once they pass STYLEFINDER_REFIT_PERCENT of the photos it was built on.",
    )
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
    space_file = models.FileField(
        upload_to="index/", storage=index_storage, blank=True, max_length=255
    )
    query_index_file = models.FileField(
        upload_to="index/",
        storage=index_storage,
        blank=True,
        max_length=255,
        help_text="Large galleries: the inverted-file index that queries search.",
    )
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
    """`neighbour` is the `rank`-th most similar photo to `photo` in `run` (rank 1 = closest).

    The foreign keys have no database constraint: a re-cluster writes 20 rows a photo in one
    COPY, and at a million photos PostgreSQL's deferred checks of 60 million references took
    minutes of the run's commit. Django cascades deletions of a photo's own list and of a run's
    rows (see `neighbour` below for the rest), and rows are written through `bulk_rows` only.

    `run` has no index of its own: the unique (run, photo, rank) index starts with it, and a
    second index on 20 million rows would only slow their COPY. Nor has `neighbour`: its
    index took half of a million-photo run's COPY (random inserts into 20 million entries, 171 s
    with it, 85 s without). So a deleted photo's own list goes with it, but its entries in
    other photos' lists stay until their run is pruned: readers never see them, as they join
    the neighbour's photo (`selectors.precomputed_neighbours` keeps public photos only), and
    photo ids are never reused (PostgreSQL identity, SQLite AUTOINCREMENT), so an entry cannot
    come to name another photo."""

    run = models.ForeignKey(
        ClusterRun,
        on_delete=models.CASCADE,
        related_name="neighbours",
        db_constraint=False,
        db_index=False,
    )
    photo = models.ForeignKey(
        Photo, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    neighbour = models.ForeignKey(
        Photo, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
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
    added = models.BooleanField(
        default=False, help_text="Joined the run after it was built (an incremental add)."
    )

    class Meta:
        ordering = ["distance"]
        constraints = [models.UniqueConstraint(fields=["run", "photo"], name="unique_membership")]
        indexes = [
            models.Index(
                fields=["run", "id"], condition=models.Q(added=True), name="membership_added"
            )
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} in {self.cluster_id}"
