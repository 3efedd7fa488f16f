"""Recommender business logic: feature extraction for a photo, and (re)building the index."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from photos.imaging import open_normalized
from photos.models import Photo
from photos.storage import delete_files

from . import query_index
from .albums import match_albums
from .blocks import LOOK_BLOCK, cnn_layout, fit_space
from .bulk_rows import insert_memberships, insert_neighbours
from .clustering import cluster, default_k_max
from .explain import PairReasons
from .extraction import (
    configured_extractor,
    configured_extractors,
    extract_image_features,
    load_vectors,
)
from .models import (
    Album,
    Cluster,
    ClusterRun,
    FeatureVector,
    Membership,
    Neighbour,
    RecommenderSettings,
)
from .naming import describe_cluster
from .selectors import index_is_stale
from .space import ClusterCentres

logger = logging.getLogger(__name__)

REBUILD_LOCK = "recommender:rebuild-lock"
REBUILD_LOCK_SECONDS = 30 * 60  # expires, so a crashed build never blocks the next one
RUNS_KEPT = 3


def extract_photo_features(photo: Photo) -> Callable[[], None]:
    """Processing step: compute `photo`'s vectors with every usable extractor; returns what
    stores them, one FeatureVector per extractor (idempotent)."""
    extractors = configured_extractors()
    side = max(extractor.input_side for extractor in extractors)
    with photo.original.open("rb") as original:
        image = open_normalized(original, max_side=side)
    vectors = extract_image_features(image, extractors)

    def store() -> None:
        for extractor in extractors:
            vector = vectors[extractor.name]
            FeatureVector.objects.update_or_create(
                photo=photo,
                extractor=extractor.name,
                version=extractor.version,
                defaults={"dim": int(vector.shape[0]), "data": FeatureVector.encode(vector)},
            )

    return store


RECLUSTER_REQUESTED_AT = "recommender:recluster-requested-at"
RECLUSTER_SCHEDULED = "recommender:recluster-scheduled"
#: A burst is over this long after its last change when no photo waits for processing. Waiting
#: the whole STYLEFINDER_RECLUSTER_DELAY after an import the workers have finished only delays
#: the new photos' neighbours; the delay stays the bound for photos stuck in the queue. While an
#: import ingests faster than the workers process, photos wait throughout, so a short quiet does
#: not split it into several runs; it only bounds how soon after the last photo the run starts.
SETTLED_QUIET_SECONDS = 0.3


def library_changed(photo_ids: list[int]) -> None:
    """Photos changed (`photos.signals.library_changed`). Photos that join the gallery join the
    active run on their own (`incremental`); any other change, or one past the re-fit budget,
    asks for a full re-cluster."""
    from . import incremental

    joining = incremental.joinable(photo_ids)
    if not joining:
        request_recluster()
    elif settings.CELERY_TASK_ALWAYS_EAGER:
        try:  # the writer pays now, as it pays for a full re-cluster (`settle`)
            incremental.add_photos(joining)
        except incremental.LockBusy:
            request_recluster()
    else:
        from .tasks import add_photos_task

        try:
            add_photos_task.delay(joining)
        except Exception:  # broker down: the full re-cluster picks the photos up
            logger.warning("Could not queue adding photos %s; re-fitting instead", joining)
            request_recluster()


def request_recluster() -> None:
    """Photos changed: mark the index stale and, with a task queue, schedule a debounced run.

    Many requests in a burst (a zip of 500 photos) cause one run once the burst is over: no
    photo waits for processing and no change came for SETTLED_QUIET_SECONDS, or, whatever
    waits, no change came for STYLEFINDER_RECLUSTER_DELAY seconds. In the embedded default (no
    queue) the writer re-clusters once its whole change is done (`settle`).
    """
    RecommenderSettings.load()
    RecommenderSettings.objects.filter(pk=1, index_dirty_since__isnull=True).update(
        index_dirty_since=timezone.now()
    )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    cache.set(RECLUSTER_REQUESTED_AT, time.time(), timeout=None)
    schedule_recluster()


def schedule_recluster(countdown: float | None = None) -> None:
    """Queue one debounced re-cluster task unless one is already waiting."""
    from .tasks import recluster_task

    delay = settings.STYLEFINDER_RECLUSTER_DELAY
    if not cache.add(RECLUSTER_SCHEDULED, "1", timeout=max(delay * 6, 60)):
        return
    if countdown is None:
        countdown = min(delay, SETTLED_QUIET_SECONDS + 0.1)
    try:
        recluster_task.apply_async(countdown=countdown)
    except Exception:  # broker down: the stale flag stays; the next change tries again
        cache.delete(RECLUSTER_SCHEDULED)
        logger.warning("Could not queue a re-cluster; the index stays stale", exc_info=True)


def run_debounced_recluster() -> str:
    """Body of the re-cluster task: wait for the burst to be over, then run; reschedule when
    busy. Over: quiet for SETTLED_QUIET_SECONDS with no photo waiting for processing, or quiet
    for STYLEFINDER_RECLUSTER_DELAY whatever waits (a photo stuck in the queue delays no run
    for longer). While a burst goes on, the task looks again about once a second."""
    delay = settings.STYLEFINDER_RECLUSTER_DELAY
    quiet_for = time.time() - float(cache.get(RECLUSTER_REQUESTED_AT) or 0)
    cache.delete(RECLUSTER_SCHEDULED)
    settled = quiet_for >= min(delay, SETTLED_QUIET_SECONDS) and (
        quiet_for >= delay or not Photo.objects.awaiting_processing().exists()
    )
    if not settled:
        schedule_recluster(countdown=min(delay - quiet_for, SETTLED_QUIET_SECONDS) + 0.1)
        return "waiting for the burst to settle"
    result = recluster()
    if result.run is None and "Another re-cluster" in result.message:
        schedule_recluster()
    return result.message


@dataclass
class RebuildResult:
    run: ClusterRun | None
    message: str


def recluster(*, k: int | None = None, auto: bool = False) -> RebuildResult:
    """Build a new run over the public photos (space, neighbours, clusters, albums) and make it
    active. One run at a time: the lock lives in the shared cache and expires, so a crashed
    worker never blocks the next run.

    `k` forces the number of clusters, `auto` forces the automatic choice; by default the
    photographer's setting decides.
    """
    if not cache.add(REBUILD_LOCK, "1", timeout=REBUILD_LOCK_SECONDS):
        return RebuildResult(None, "Another re-cluster is running.")
    try:
        return _recluster(k=k, auto=auto)
    finally:
        cache.delete(REBUILD_LOCK)


class _Laps:
    """Seconds spent in each phase of a run, as [phase, seconds] pairs in order (the run's config
    keeps them as a list: PostgreSQL's jsonb does not keep the order of an object's keys)."""

    def __init__(self) -> None:
        self.seconds: list[tuple[str, float]] = []
        self._last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds.append((phase, round(now - self._last, 3)))
        self._last = now


def _recluster(*, k: int | None, auto: bool) -> RebuildResult:
    started = time.perf_counter()
    laps = _Laps()
    started_at = timezone.now()
    knobs = RecommenderSettings.load()
    RecommenderSettings.objects.filter(pk=1, index_dirty_since__lte=started_at).update(
        index_dirty_since=None
    )
    photo_ids = list(Photo.objects.public().order_by("pk").values_list("pk", flat=True))
    extractors = [(e.name, e.version) for e in configured_extractors()]
    upgrade_features(photo_ids, extractors)
    features = load_vectors(photo_ids, extractors)
    has_vectors = ~np.isnan(features["style"]).any(axis=1) if "style" in features else None
    if has_vectors is None or has_vectors.sum() < 2:
        return RebuildResult(None, "Fewer than two photos have style features; nothing to index.")
    # Photos without style features (processed before features existed) wait for re-processing.
    photo_ids = [pid for pid, ok in zip(photo_ids, has_vectors, strict=True) if ok]
    features = {name: matrix[has_vectors] for name, matrix in features.items()}
    laps("vectors")

    space_settings = knobs.space_settings()
    cnn = configured_extractor("cnn") if "cnn" in features else None
    layout = cnn_layout(cnn) if cnn is not None else None
    signature = cnn.signature if cnn is not None else None
    fixed_k = k if k else (None if auto else knobs.cluster_count)
    config = {
        "extractors": [f"{name}@{version}" for name, version in extractors],
        "features": sorted(features),
        "space": space_settings.as_config(),
        "cnn_layout": layout,
        "cnn_signature": signature,
        "neighbours_per_photo": knobs.neighbours_per_photo,
        "clustering": {
            "algorithm": knobs.algorithm,
            "k": fixed_k,
            "k_min": knobs.k_min,
            # The largest k tried: the setting, or what the gallery's size gives (None set).
            "k_max": knobs.k_max or max(default_k_max(len(photo_ids)), knobs.k_min),
            "k_max_grows_with_gallery": knobs.k_max is None,
        },
    }
    run = ClusterRun.objects.create(
        n_photos=len(photo_ids), config=config, algorithm=knobs.algorithm
    )
    try:
        space = fit_space(
            np.asarray(photo_ids), features, space_settings, layout, cnn_signature=signature
        )
        run.config["blocks"] = [block.name for block in space.blocks]
        # Which shipped look metric the run used: the style features alone, or with the CNN's
        run.config["look_inputs"] = next(
            (list(block.sources) for block in space.blocks if block.name == LOOK_BLOCK), []
        )
        laps("space")
        style = features["style"]
        large = len(photo_ids) >= query_index.APPROXIMATE_FROM
        searched = query_index.build(space.matrix) if large else None
        _write_neighbours(run, space, searched, photo_ids, style, knobs.neighbours_per_photo, laps)
        clustering = cluster(
            space.matrix,
            k=fixed_k,
            k_min=knobs.k_min,
            k_max=knobs.k_max,
            algorithm=knobs.algorithm,
        )
        laps("clustering")
        cluster_ids = _write_clusters(run, clustering, photo_ids, style)
        space.centres = ClusterCentres(cluster_ids, clustering.centroids)
        laps("albums")
        run.k = clustering.k
        run.silhouette = clustering.silhouette
        run.wcss = clustering.wcss
        run.stability = clustering.stability
        run.sweep = clustering.sweep_as_dicts()
        run.space_file.save(f"run-{run.pk}.npz", ContentFile(space.to_bytes()), save=False)
        if len(photo_ids) >= query_index.QUERY_INDEX_FROM:
            _save_query_index(run, searched)
        laps("index file")
        run.config["seconds"] = laps.seconds
        with transaction.atomic():
            # Readers see the old run until this commits, then the whole new one.
            ClusterRun.objects.filter(is_active=True).update(is_active=False)
            run.status = ClusterRun.Status.READY
            run.is_active = True
            run.finished_at = timezone.now()
            run.duration_seconds = time.perf_counter() - started
            run.save()
    except Exception as exc:
        logger.exception("Re-cluster run %s failed", run.pk)
        ClusterRun.objects.filter(pk=run.pk).update(
            status=ClusterRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    _prune_old_runs()
    message = (
        f"Indexed {len(photo_ids)} photos in {run.duration_seconds:.2f}s: "
        f"k={run.k}, silhouette {_fmt(run.silhouette)}, WCSS {_fmt(run.wcss)}, "
        f"stability {_fmt(run.stability)}."
    )
    logger.info("Run %s: %s", run.pk, message)
    return RebuildResult(run, message)


def _save_query_index(run: ClusterRun, index) -> None:
    """Large galleries: the inverted-file index the neighbour build searched, beside the index
    file, for queries."""
    with tempfile.TemporaryDirectory(prefix="stylefinder-query-index-") as folder:
        path = Path(folder) / "query.faiss"
        query_index.write(index, path)
        with path.open("rb") as handle:
            run.query_index_file.save(f"run-{run.pk}.faiss", File(handle), save=False)


def upgrade_features(photo_ids: list[int], extractors: list[tuple[str, int]]) -> int:
    """Re-extract the photos that have a vector of an older version of an extractor but not of
    the current one (a new version of the features, e.g. style 2): without it an upgraded
    gallery would drop out of the index until every photo was re-processed by hand. Returns
    how many photos were re-extracted; a photo that fails is logged and left out, as before."""
    outdated: set[int] = set()
    for name, version in extractors:
        current = FeatureVector.objects.filter(extractor=name, version=version).values("photo_id")
        outdated |= set(
            FeatureVector.objects.filter(extractor=name)
            .exclude(version=version)
            .exclude(photo_id__in=current)
            .values_list("photo_id", flat=True)
        )
    outdated &= set(photo_ids)  # not as an IN list: a million ids took PostgreSQL 10 s
    if not outdated:
        return 0
    logger.warning(
        "%s photos have features of an older extractor version; re-extracting them", len(outdated)
    )
    done = 0
    for photo in Photo.objects.filter(pk__in=outdated).order_by("pk").iterator(chunk_size=200):
        try:
            extract_photo_features(photo)()
        except Exception:
            logger.exception("Re-extracting the features of photo %s failed", photo.pk)
            continue
        for name, version in extractors:  # the old vectors are never read again
            FeatureVector.objects.filter(photo=photo, extractor=name).exclude(
                version=version
            ).delete()
        done += 1
    return done


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _write_neighbours(
    run: ClusterRun,
    space,
    index,
    photo_ids: list[int],
    style: np.ndarray,
    per_photo: int,
    laps: _Laps,
) -> None:
    """The run's neighbour rows; with an inverted-file `index` (large galleries) the
    candidates come from it."""
    indices, scores = space.all_neighbours(per_photo, index=index)
    laps("neighbours")
    why = PairReasons(style)

    def rows():
        for i, photo_id in enumerate(photo_ids):
            for rank, (j, score) in enumerate(
                zip(indices[i].tolist(), scores[i].tolist(), strict=True), start=1
            ):
                yield photo_id, photo_ids[j], rank, score, why(i, j)

    insert_neighbours(run.pk, rows())
    laps("neighbour rows")


def _previous_albums() -> dict[int, set[int]]:
    """Album id → its photos in the active run, to carry albums over to the new run."""
    members: dict[int, set[int]] = {}
    rows = Membership.objects.filter(run__is_active=True, cluster__album__isnull=False)
    for album_id, photo_id in rows.values_list("cluster__album_id", "photo_id"):
        members.setdefault(album_id, set()).add(photo_id)
    return members


def _write_clusters(run: ClusterRun, result, photo_ids: list[int], style: np.ndarray) -> np.ndarray:
    """The run's clusters, albums and memberships; returns each label's cluster id."""
    labels = result.labels
    member_rows = [np.flatnonzero(labels == label) for label in range(result.k)]
    member_sets = [{photo_ids[i] for i in rows} for rows in member_rows]
    matched = match_albums(_previous_albums(), member_sets)
    albums = Album.objects.in_bulk([album_id for album_id in matched if album_id])
    clusters = []
    for label, rows in enumerate(member_rows):
        name, attributes = describe_cluster(style[rows])
        album = albums.get(matched[label]) if matched[label] else None
        if album is None:
            album = Album.objects.create(auto_name=name)
        elif album.auto_name != name:
            album.auto_name = name
            album.save(update_fields=["auto_name", "updated_at"])
        cover = photo_ids[rows[np.argmin(result.distances[rows])]] if len(rows) else None
        clusters.append(
            Cluster(
                run=run,
                label=label,
                album=album,
                size=len(rows),
                cover_id=cover,
                attributes=attributes,
            )
        )
    Cluster.objects.bulk_create(clusters)
    by_label = {c.label: c for c in Cluster.objects.filter(run=run)}
    insert_memberships(
        run.pk,
        (
            (photo_id, by_label[int(labels[i])].pk, float(result.distances[i]))
            for i, photo_id in enumerate(photo_ids)
        ),
    )
    return np.array([by_label[label].pk for label in range(result.k)], np.int64)


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
        for field in (old.space_file, old.query_index_file):
            if field:  # best effort: a file the storage cannot delete now is recorded
                delete_files(field.storage, [field.name], reason=f"run {old.pk}")
        for model in (Neighbour, Membership):
            delete_in_batches(model.objects.filter(run=old))
        old.delete()


#: rows an old run's pruning deletes per statement
PRUNE_BATCH = 50_000


def delete_in_batches(rows) -> int:
    """Delete `rows` (a queryset without cascades) a window of PRUNE_BATCH ids at a time, each
    its own short statement, rather than in one: a big gallery's old run has 20 million
    neighbour rows, and one statement would hold their locks and a transaction for minutes.
    Returns how many were deleted."""
    bounds = rows.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return 0
    deleted = 0
    for start in range(bounds["low"], bounds["high"] + 1, PRUNE_BATCH):
        deleted += rows.filter(pk__gte=start, pk__lt=start + PRUNE_BATCH).delete()[0]
    return deleted


def recluster_if_stale() -> RebuildResult | None:
    """Re-cluster now if photos changed since the last run; None when the index is fresh."""
    return recluster() if index_is_stale() else None


def settle() -> None:
    """A writer finished changing the library (photos.signals.library_settled).

    In the embedded default (no task queue) the writer pays for the re-cluster now, so that no
    reader does. A failed run is recorded (visible in the admin) and logged; the
    writer's photos are kept either way. With a queue the debounced task does the work.
    """
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    try:
        recluster_if_stale()
    except Exception:
        logger.exception("Re-clustering after a change to the library failed")


STALE_CHECKED = "recommender:stale-checked"
STALE_CHECK_SECONDS = 30
#: When this process looks next (`time.monotonic()`); until then a read costs nothing here.
_next_stale_check = 0.0


def request_recluster_if_stale() -> None:
    """A reader found the index possibly stale: make sure a re-cluster is on its way.

    The reader keeps serving the active run. With a queue, a change whose task could not be
    queued (the broker was down) is picked up here, at most once per STALE_CHECK_SECONDS per
    process and per cache. In the embedded default the writer has paid already (`settle`).
    """
    global _next_stale_check
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    # No cache call on the common path: this process looked less than STALE_CHECK_SECONDS ago.
    now = time.monotonic()
    if now < _next_stale_check:
        return
    _next_stale_check = now + STALE_CHECK_SECONDS
    if not cache.add(STALE_CHECKED, "1", timeout=STALE_CHECK_SECONDS):
        return
    if not cache.get(RECLUSTER_SCHEDULED) and index_is_stale():
        cache.set(RECLUSTER_REQUESTED_AT, time.time(), timeout=None)
        schedule_recluster()
