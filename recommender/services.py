"""Recommender business logic: feature extraction for a photo, and (re)building the index."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from photos.imaging import open_normalized
from photos.models import Photo

from .blocks import cnn_layout, fit_space
from .explain import reasons, style_attributes
from .features import FeatureExtractor, get_extractor, usable_extractors
from .models import ClusterRun, FeatureVector, Neighbour, RecommenderSettings

logger = logging.getLogger(__name__)

REBUILD_LOCK = "recommender:rebuild-lock"
REBUILD_LOCK_SECONDS = 30 * 60  # expires, so a crashed build never blocks the next one
RUNS_KEPT = 3


def configured_extractors() -> list[FeatureExtractor]:
    """Extractors enabled in settings (and, for cnn, in the admin) that can run here."""
    names = list(settings.STYLEFINDER_EXTRACTORS)
    if "cnn" in names and not RecommenderSettings.load().cnn_enabled:
        names.remove("cnn")
    return usable_extractors(names)


def extract_image_features(
    image: Image.Image, extractors: list[FeatureExtractor] | None = None
) -> dict[str, np.ndarray]:
    """Run extractors on one decoded image: {extractor name: vector}."""
    extractors = configured_extractors() if extractors is None else extractors
    return {extractor.name: extractor.extract(image) for extractor in extractors}


def extract_photo_features(photo: Photo) -> None:
    """Processing step: store one FeatureVector per usable extractor for `photo` (idempotent)."""
    extractors = configured_extractors()
    side = max(extractor.input_side for extractor in extractors)
    with photo.original.open("rb") as original:
        image = open_normalized(original, max_side=side)
    for name, vector in extract_image_features(image, extractors).items():
        extractor = next(e for e in extractors if e.name == name)
        FeatureVector.objects.update_or_create(
            photo=photo,
            extractor=extractor.name,
            version=extractor.version,
            defaults={"dim": int(vector.shape[0]), "data": FeatureVector.encode(vector)},
        )


def request_rebuild() -> None:
    """Mark the index stale; the next reader (or `manage.py rebuild_index`) rebuilds it."""
    RecommenderSettings.load()
    RecommenderSettings.objects.filter(pk=1, index_dirty_since__isnull=True).update(
        index_dirty_since=timezone.now()
    )


def load_vectors(photo_ids: list[int], extractors: list[tuple[str, int]]) -> dict[str, np.ndarray]:
    """{extractor: (len(photo_ids), dim) array} with NaN rows where a photo lacks a vector."""
    row_of = {pid: i for i, pid in enumerate(photo_ids)}
    out: dict[str, np.ndarray] = {}
    for name, version in extractors:
        rows = FeatureVector.objects.filter(
            photo_id__in=photo_ids, extractor=name, version=version
        ).values_list("photo_id", "data")
        matrix = None
        for photo_id, data in rows.iterator(chunk_size=2000):
            vector = np.frombuffer(bytes(data), dtype="<f4")
            if matrix is None:
                matrix = np.full((len(photo_ids), vector.shape[0]), np.nan, np.float32)
            if vector.shape[0] == matrix.shape[1]:
                matrix[row_of[photo_id]] = vector
        if matrix is not None:
            out[name] = matrix
    return out


@dataclass
class RebuildResult:
    run: ClusterRun | None
    message: str


def rebuild_index(*, force: bool = False) -> RebuildResult:
    """Build a new run over the public photos and make it active; one build at a time."""
    if not cache.add(REBUILD_LOCK, "1", timeout=REBUILD_LOCK_SECONDS):
        return RebuildResult(None, "Another index build is running.")
    try:
        return _rebuild_index()
    finally:
        cache.delete(REBUILD_LOCK)


def _rebuild_index() -> RebuildResult:
    started = time.perf_counter()
    started_at = timezone.now()
    knobs = RecommenderSettings.load()
    RecommenderSettings.objects.filter(pk=1, index_dirty_since__lte=started_at).update(
        index_dirty_since=None
    )
    photo_ids = list(Photo.objects.public().order_by("pk").values_list("pk", flat=True))
    extractors = [(e.name, e.version) for e in configured_extractors()]
    features = load_vectors(photo_ids, extractors)
    has_vectors = ~np.isnan(features["style"]).any(axis=1) if "style" in features else None
    if has_vectors is None or has_vectors.sum() < 2:
        return RebuildResult(None, "Fewer than two photos have style features; nothing to index.")
    # Photos without style features (processed before features existed) wait for re-processing.
    photo_ids = [pid for pid, ok in zip(photo_ids, has_vectors, strict=True) if ok]
    features = {name: matrix[has_vectors] for name, matrix in features.items()}

    space_settings = knobs.space_settings()
    layout = cnn_layout(get_extractor("cnn")) if "cnn" in features else None
    config = {
        "extractors": [f"{name}@{version}" for name, version in extractors],
        "features": sorted(features),
        "space": space_settings.as_config(),
        "cnn_layout": layout,
        "neighbours_per_photo": knobs.neighbours_per_photo,
    }
    run = ClusterRun.objects.create(n_photos=len(photo_ids), config=config)
    try:
        space = fit_space(np.asarray(photo_ids), features, space_settings, layout)
        run.config["blocks"] = [block.name for block in space.blocks]
        indices, scores = space.all_neighbours(knobs.neighbours_per_photo)
        style = features["style"]
        attributes = [style_attributes(vector) for vector in style]
        rows = []
        for i, photo_id in enumerate(photo_ids):
            for rank, (j, score) in enumerate(zip(indices[i], scores[i], strict=True), start=1):
                why = reasons(style[i], style[j], attributes[i], attributes[j])
                rows.append(
                    Neighbour(
                        run=run,
                        photo_id=photo_id,
                        neighbour_id=photo_ids[j],
                        rank=rank,
                        score=float(score),
                        reasons=why,
                    )
                )
        Neighbour.objects.bulk_create(rows, batch_size=2000)
        run.space_file.save(f"run-{run.pk}.npz", ContentFile(space.to_bytes()), save=False)
        with transaction.atomic():
            ClusterRun.objects.filter(is_active=True).update(is_active=False)
            run.status = ClusterRun.Status.READY
            run.is_active = True
            run.finished_at = timezone.now()
            run.duration_seconds = time.perf_counter() - started
            run.save()
    except Exception as exc:
        logger.exception("Index build %s failed", run.pk)
        ClusterRun.objects.filter(pk=run.pk).update(
            status=ClusterRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    _prune_old_runs()
    logger.info("Index run %s: %s photos in %.2fs", run.pk, len(photo_ids), run.duration_seconds)
    return RebuildResult(run, f"Indexed {len(photo_ids)} photos in {run.duration_seconds:.2f}s.")


def _prune_old_runs() -> None:
    keep = list(
        ClusterRun.objects.filter(status=ClusterRun.Status.READY).values_list("pk", flat=True)[
            :RUNS_KEPT
        ]
    )
    stale_build = timezone.now() - timedelta(seconds=REBUILD_LOCK_SECONDS)
    old_runs = (
        ClusterRun.objects.exclude(pk__in=keep)
        .filter(is_active=False)
        .exclude(status=ClusterRun.Status.BUILDING, created_at__gt=stale_build)
    )
    for old in old_runs:
        if old.space_file:
            old.space_file.delete(save=False)
        old.delete()


def ensure_index_fresh() -> None:
    """Rebuild now when photos changed since the last build (embedded, in-process mode)."""
    knobs = RecommenderSettings.load()
    if knobs.index_dirty_since is not None:
        rebuild_index()
