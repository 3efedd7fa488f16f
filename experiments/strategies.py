"""What a variant shows: one function picks the list for (photo, strategy).

The photo page, the API and the widget all call `recommend_for_photo` / `recommend_for_image`
with the strategy of the visitor's assignment (`experiments.assignment`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

import numpy as np
from django.db.models import Count
from django.utils import timezone
from PIL import Image

from photos.models import Photo
from recommender.models import Membership
from recommender.selectors import (
    Recommendation,
    _photos_with_thumbs,
    active_run,
    similar_to_image,
    similar_to_photo,
    space_cache,
)

from .assignment import DEFAULT_STRATEGY, assignment_for
from .models import Click, Strategy

POPULAR_DAYS = 30

# Where the `random` strategy draws when its caller passes no generator: the operating system's
# randomness. It has no state to seed, share between threads or leak (a visitor cannot predict
# the next control list from the lists it saw); reproducible runs pass their own generator.
SYSTEM_RANDOM = random.SystemRandom()
_in_process_rng: ContextVar[random.Random | None] = ContextVar("strategy_rng", default=None)


def current_variant(request=None) -> str:
    """The name of the visitor's variant (for reports and data attributes)."""
    return assignment_for(request).variant if request is not None else DEFAULT_STRATEGY


def _similarity_to(photo: Photo, candidates: list[int]) -> dict[int, float]:
    """Cosine similarity in the active run's space (0 for photos outside it)."""
    run = active_run()
    space = space_cache.get(run) if run else None
    row = space.row(photo.pk) if space else None
    if row is None:
        return dict.fromkeys(candidates, 0.0)
    rows = [space.row(pid) for pid in candidates]
    present = [r for r in rows if r is not None]
    scores = space.matrix[present] @ space.matrix[row] if present else np.zeros(0)
    lookup = dict(zip(present, scores.tolist(), strict=True))
    return {
        pid: lookup.get(r, 0.0) if r is not None else 0.0
        for pid, r in zip(candidates, rows, strict=True)
    }


def _as_recommendations(photo_ids: list[int], scores: dict[int, float]) -> list[Recommendation]:
    photos = _photos_with_thumbs(photo_ids)
    out = []
    for photo_id in photo_ids:
        photo = photos.get(photo_id)
        if photo is not None:
            out.append(
                Recommendation(photo, scores.get(photo_id, 0.0), len(out) + 1, [], photo.thumb)
            )
    return out


def _public_ids(exclude: int) -> list[int]:
    return list(Photo.objects.public().exclude(pk=exclude).values_list("pk", flat=True))


def same_cluster(photo: Photo, k: int) -> list[Recommendation]:
    """Photos of the photo's album in the active run, the most similar first."""
    membership = Membership.objects.filter(run__is_active=True, photo=photo).first()
    if membership is None:
        return []
    members = list(
        Membership.objects.filter(cluster_id=membership.cluster_id)
        .exclude(photo=photo)
        .filter(Photo.public_q("photo__"))
        .values_list("photo_id", flat=True)
    )
    scores = _similarity_to(photo, members)
    ranked = sorted(members, key=lambda pid: -scores[pid])[:k]
    return _as_recommendations(ranked, scores)


def popular(photo: Photo, k: int) -> list[Recommendation]:
    """The most clicked public photos of the last 30 days (newest first among equals)."""
    since = timezone.now() - timedelta(days=POPULAR_DAYS)
    counts = dict(
        Click.objects.filter(Photo.public_q("target__"), created_at__gte=since)
        .exclude(target=photo)
        .values_list("target")
        .annotate(n=Count("id"))
        .values_list("target", "n")
    )
    newest = list(
        Photo.objects.public()
        .exclude(pk=photo.pk)
        .order_by("-created_at")
        .values_list("pk", flat=True)[: k * 3]
    )
    ranked = sorted(
        set(counts) | set(newest),
        key=lambda pid: (-counts.get(pid, 0), newest.index(pid) if pid in newest else 10**9),
    )[:k]
    top = max(counts.values(), default=0) or 1
    return _as_recommendations(ranked, {pid: counts.get(pid, 0) / top for pid in ranked})


@contextmanager
def drawing_from(rng: random.Random) -> Iterator[random.Random]:
    """Within this block (this thread or task, in this process) the `random` strategy draws from
    `rng` when its caller passes none: how the traffic simulator, calling the site in-process
    (experiments.wsgi_client), makes the pages' random lists reproducible from its seed. Nothing
    a request carries can set it, and the global `random` is never touched."""
    token = _in_process_rng.set(rng)
    try:
        yield rng
    finally:
        _in_process_rng.reset(token)


def random_photos(photo: Photo, k: int, rng: random.Random | None = None) -> list[Recommendation]:
    """Public photos picked at random, from `rng` (else the `drawing_from` generator, else the
    system's randomness). Scores are their true style similarity, so that the logs can show how
    well similarity predicts clicks even where it did not choose the list."""
    if rng is None:
        rng = _in_process_rng.get() or SYSTEM_RANDOM
    candidates = sorted(_public_ids(photo.pk))  # a fixed order: the same generator, the same list
    chosen = rng.sample(candidates, min(k, len(candidates)))
    return _as_recommendations(chosen, _similarity_to(photo, chosen))


def nothing(photo: Photo, k: int) -> list[Recommendation]:
    return []


PHOTO_STRATEGIES: dict[str, Callable[[Photo, int], list[Recommendation]]] = {
    Strategy.STYLE_KNN: similar_to_photo,
    Strategy.CLUSTER: same_cluster,
    Strategy.POPULAR: popular,
    Strategy.RANDOM: random_photos,
    Strategy.NONE: nothing,
}


def recommend_for_photo(
    photo: Photo, strategy: str, k: int, rng: random.Random | None = None
) -> list[Recommendation]:
    """The list `strategy` shows under `photo` (unknown names fall back to the default); `rng`
    is for the strategies that draw at random (see `random_photos`), the others ignore it."""
    if strategy == Strategy.RANDOM:
        return random_photos(photo, k, rng)
    return PHOTO_STRATEGIES.get(strategy, similar_to_photo)(photo, k)


def recommend_for_image(image: Image.Image, strategy: str, k: int) -> list[Recommendation]:
    """For an uploaded image only similarity makes sense; `none` still shows nothing."""
    if strategy == Strategy.NONE:
        return []
    return similar_to_image(image, k)
