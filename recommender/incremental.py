"""Photos that join the active index without a full re-fit (issue #15, item 1).

A photo processed after the active run was built is embedded with the run's fitted transforms
(`StyleSpace.extended`), gets its neighbours by the run's ranking (copies last), enters the lists
of the photos it now ranks among the nearest of, and joins the cluster whose centre is nearest
(`ClusterCentres`); one transaction writes all of it. The space, PCA, detector basis, clusters and
albums stay the fitted ones, which drift as the gallery grows: once the photos added so pass
`STYLEFINDER_REFIT_PERCENT` of the photos the run was built on, the next change asks for the
full re-fit instead (`services.request_recluster`), as does the photographer's button.

An add holds the re-cluster lock for its short writes, so it never interleaves with a full run:
a worker that finds a full run in progress tries again shortly (the run may already hold the
photo); the embedded default, with no worker to try again, marks the index stale instead.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from photos.models import Photo

from . import content_version
from .albums import compute_centroids
from .blocks import embed, embed_copies
from .bulk_rows import insert_neighbours
from .explain import reasons
from .extraction import load_vectors
from .models import Cluster, ClusterRun, Membership, Neighbour, RecommenderSettings
from .selectors import active_run, run_extractors, space_cache
from .space import COPY_MARGIN, ClusterCentres, StyleSpace

logger = logging.getLogger(__name__)

#: the lock's value while an add holds it (a full run holds it with another value)
ADDING = "adding"


class LockBusy(Exception):
    """A full re-cluster (or another add) holds the lock: try again shortly."""


@dataclass
class AddResult:
    added: list[int]  # photos that joined the run
    refit: bool  # the budget is spent: a full re-fit was asked for instead
    message: str


def refit_budget(run: ClusterRun) -> int:
    """How many photos may join `run` before a full re-fit is due."""
    return int(run.n_photos * settings.STYLEFINDER_REFIT_PERCENT / 100)


def newcomers(photo_ids: list[int], run: ClusterRun) -> list[int]:
    """Of `photo_ids`, the public photos that are not in `run` (sorted)."""
    public = set(Photo.objects.public().filter(pk__in=photo_ids).values_list("pk", flat=True))
    inside = set(
        Membership.objects.filter(run=run, photo_id__in=public).values_list("photo_id", flat=True)
    )
    return sorted(public - inside)


def joinable(photo_ids: list[int]) -> list[int]:
    """Of changed `photo_ids`, those an add can handle (all of them, or none: one change is
    handled one way). Empty when incremental adds are off, there is no active run, or some
    photo's change is not a public photo joining (an edit, a deletion, a photo hidden)."""
    if settings.STYLEFINDER_REFIT_PERCENT <= 0 or not photo_ids:
        return []
    run = active_run()
    if run is None:
        return []
    joining = newcomers(photo_ids, run)
    return joining if len(joining) == len(set(photo_ids)) else []


def add_photos(photo_ids: list[int], *, wait: float = 0.0) -> AddResult:
    """Add the public photos of `photo_ids` that are not in the active run to it.

    Raises `LockBusy` when a full run holds the lock for longer than `wait` seconds."""
    from .services import REBUILD_LOCK, REBUILD_LOCK_SECONDS, request_recluster

    deadline = time.monotonic() + wait
    while not cache.add(REBUILD_LOCK, ADDING, timeout=REBUILD_LOCK_SECONDS):
        if time.monotonic() >= deadline:
            raise LockBusy("a re-cluster holds the index")
        time.sleep(0.05)
    try:
        run = active_run()
        if run is None:
            request_recluster()
            return AddResult([], True, "No active run: a full re-cluster was asked for.")
        joining = newcomers(photo_ids, run)
        if not joining:
            return AddResult([], False, "Nothing to add.")
        if run.added_photos + len(joining) > refit_budget(run):
            request_recluster()
            return AddResult(
                [],
                True,
                f"{run.added_photos + len(joining)} photos would have joined run "
                f"{run.pk} since it was built (more than {refit_budget(run)}): a full re-fit "
                "was asked for.",
            )
        return _add(run, joining)
    finally:
        if cache.get(REBUILD_LOCK) == ADDING:
            cache.delete(REBUILD_LOCK)


def _add(run: ClusterRun, joining: list[int]) -> AddResult:
    from .services import request_recluster

    started = time.perf_counter()
    space = space_cache.get(run)
    if space is None:  # the index file cannot be read: the full run rebuilds it
        request_recluster()
        return AddResult([], True, f"The index of run {run.pk} cannot be read: re-fit asked for.")
    features = load_vectors(joining, run_extractors(run))
    style = features.get("style")
    present = ~np.isnan(style).any(axis=1) if style is not None else np.zeros(len(joining), bool)
    if not present.any():
        return AddResult([], False, "The photos have no style features yet.")
    joining = [pid for pid, ok in zip(joining, present, strict=True) if ok]
    features = {name: matrix[present] for name, matrix in features.items()}
    layout = run.config.get("cnn_layout")
    rows = embed(space, features, layout)
    grown = space.extended(np.asarray(joining), rows, embed_copies(space, features, layout))
    k = run.config.get("neighbours_per_photo") or RecommenderSettings.load().neighbours_per_photo
    first = len(space)
    lists = own_lists(grown, first, k)
    changed = _lists_they_enter(run, grown, first, k)
    centres = grown.centres or _centres_from_memberships(run, space)
    cluster_ids, distances = centres.nearest(rows)
    style_of = _style_vectors(run, grown, lists, changed, joining, features["style"])

    with transaction.atomic():
        changed_ids = [int(grown.photo_ids[row]) for row in changed]
        Neighbour.objects.filter(run=run, photo_id__in=changed_ids).delete()
        insert_neighbours(run.pk, _rows(grown, lists, changed, style_of))
        memberships = Membership.objects.bulk_create(
            [
                Membership(
                    run=run, photo_id=pid, cluster_id=int(cid), distance=float(d), added=True
                )
                for pid, cid, d in zip(joining, cluster_ids, distances, strict=True)
            ]
        )
        for cluster_id, count in zip(*np.unique(cluster_ids, return_counts=True), strict=True):
            Cluster.objects.filter(pk=int(cluster_id)).update(size=F("size") + int(count))
        ClusterRun.objects.filter(pk=run.pk).update(added_photos=F("added_photos") + len(joining))
        content_version.bump()
    run.refresh_from_db(fields=["added_photos"])
    last = max(m.pk for m in memberships) if all(m.pk for m in memberships) else None
    if last is not None:
        space_cache.put(run, grown, last)
    else:  # a database that does not return ids from bulk inserts: reload next time
        space_cache.clear()
    seconds = time.perf_counter() - started
    message = (
        f"Added {len(joining)} photos to run {run.pk} in {seconds * 1000:.0f} ms "
        f"({len(changed)} other lists changed)."
    )
    logger.info(message)
    return AddResult(joining, False, message)


def own_lists(grown: StyleSpace, first: int, k: int) -> dict[int, list[tuple[int, float]]]:
    """Each new row's top `k` other rows, best first: (row, cosine)."""
    queries = np.arange(first, len(grown))
    copies = grown.copies.rows_at(queries) if grown.copies is not None else None
    exclude = [{int(grown.photo_ids[r])} for r in queries]
    hits = grown.search(grown.rows_at(queries), k, exclude=exclude, query_copies=copies)
    return {
        int(r): [(grown.row(pid), score) for pid, score in row]
        for r, row in zip(queries, hits, strict=True)
    }


def _lists_they_enter(
    run: ClusterRun, grown: StyleSpace, first: int, k: int
) -> dict[int, list[tuple[int, float, list | None]]]:
    """The lists of photos already in the run that the new rows now belong to, merged: row →
    [(neighbour row, cosine, stored reasons or None for a new entry)], best first.

    Looked for among each new row's best `k` + COPY_MARGIN others by cosine (similarity is
    symmetric, so a photo whose list a new photo enters is almost always among the new photo's
    nearest; the full re-fit settles the rest)."""
    new_rows = np.arange(first, len(grown))
    candidates = candidate_rows(grown, first, k)
    if not candidates:
        return {}
    stored: dict[int, list[tuple[int, float, list]]] = {r: [] for r in candidates}
    ids = [int(grown.photo_ids[r]) for r in candidates]
    rows = Neighbour.objects.filter(run=run, photo_id__in=ids).order_by("photo_id", "rank")
    for photo_id, neighbour_id, score, why in rows.values_list(
        "photo_id", "neighbour_id", "score", "reasons"
    ):
        neighbour = grown.row(neighbour_id)
        if neighbour is not None:
            stored[grown.row(photo_id)].append((neighbour, score, why))
    changed = {}
    for row in candidates:
        entries = stored[row] + [(int(r), None, None) for r in new_rows]
        rows_of = np.array([entry[0] for entry in entries])
        values, cosines = grown.ranking(row, rows_of)
        order = np.argsort(-values, kind="stable")[:k]  # ties: the stored entry first
        if not any(entries[i][2] is None for i in order):
            continue
        changed[row] = [(entries[i][0], float(cosines[i]), entries[i][2]) for i in order]
    return changed


def candidate_rows(grown: StyleSpace, first: int, k: int) -> list[int]:
    """Rows of photos already in the run (below `first`) whose lists the new rows may enter:
    each new row's best `k` + COPY_MARGIN of them by cosine."""
    take = min(k + COPY_MARGIN, first)
    if take <= 0:
        return []
    scores = grown.similarities(grown.rows_at(np.arange(first, len(grown))))[:, :first]
    near = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    return sorted({int(r) for r in near.ravel()})


def _style_vectors(
    run: ClusterRun,
    grown: StyleSpace,
    lists: dict[int, list[tuple[int, float]]],
    changed: dict[int, list[tuple[int, float, list | None]]],
    joining: list[int],
    joining_style: np.ndarray,
) -> dict[int, np.ndarray]:
    """Style vectors (photo id → vector) of every photo the new rows' reasons are about."""
    style_of = {pid: joining_style[i] for i, pid in enumerate(joining)}
    wanted = {int(grown.photo_ids[r]) for row in lists.values() for r, _ in row}
    wanted |= {int(grown.photo_ids[r]) for r in changed}
    wanted -= set(style_of)
    if wanted:
        style_key = [pair for pair in run_extractors(run) if pair[0] == "style"]
        ids = sorted(wanted)
        loaded = load_vectors(ids, style_key).get("style")
        if loaded is not None:
            style_of.update({pid: loaded[i] for i, pid in enumerate(ids)})
    return style_of


def _rows(grown: StyleSpace, lists, changed, style_of):
    """Neighbour rows (photo, neighbour, rank, score, reasons) of the new photos' lists and of
    the lists they entered."""
    for row, hits in lists.items():
        photo_id = int(grown.photo_ids[row])
        for rank, (other, score) in enumerate(hits, start=1):
            other_id = int(grown.photo_ids[other])
            why = reasons(style_of.get(photo_id), style_of.get(other_id))
            yield photo_id, other_id, rank, float(score), why
    for row, entries in changed.items():
        photo_id = int(grown.photo_ids[row])
        for rank, (other, score, why) in enumerate(entries, start=1):
            other_id = int(grown.photo_ids[other])
            if why is None:
                why = reasons(style_of.get(photo_id), style_of.get(other_id))
            yield photo_id, other_id, rank, float(score), why


def _centres_from_memberships(run: ClusterRun, space: StyleSpace) -> ClusterCentres:
    """A run built before the index file kept its cluster centres: its members' means."""
    centroids = compute_centroids(run, space)
    return ClusterCentres(centroids.cluster_ids, centroids.matrix)
