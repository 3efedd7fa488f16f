"""Read side of the recommender: similar photos for a gallery photo or an uploaded image."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from django.core.cache import cache
from django.db.models import OuterRef, Subquery
from PIL import Image

from photos.models import Photo, Rendition
from photos.storage import describe as describe_storage_error

from .blocks import embed, embed_copies
from .explain import reasons
from .extraction import configured_extractors, extract_image_features, load_vectors
from .index_file import open_index
from .models import (
    MODE_SETTINGS_CACHE_KEY,
    ClusterRun,
    FeatureVector,
    Membership,
    Neighbour,
    RecommenderSettings,
)
from .modes import (
    SCENE_CANDIDATES,
    Mode,
    ModeSettings,
    mode_space,
    scene_bonus,
    scene_reasons,
)
from .space import StyleSpace

logger = logging.getLogger(__name__)


@dataclass
class Recommendation:
    photo: Photo
    score: float
    rank: int
    reasons: list[str] = field(default_factory=list)
    thumbnail_name: str | None = None

    @property
    def thumbnail_url(self) -> str | None:
        if self.thumbnail_name:
            return Rendition._meta.get_field("file").storage.url(self.thumbnail_name)
        return self.photo.rendition_url("thumb")


def active_run() -> ClusterRun | None:
    return ClusterRun.objects.filter(is_active=True).first()


def index_is_stale() -> bool:
    """Photos or settings changed after the last re-cluster started."""
    return RecommenderSettings.objects.filter(pk=1, index_dirty_since__isnull=False).exists()


class _SpaceCache:
    """The active run's space, opened once per process (memory-mapped: `index_file`) and again
    when the active run changes; photos that joined the run since (`ClusterRun.added_photos`)
    are appended as they come (`with_additions`).

    A remote index file is copied to local disk first (`index_file`). When the storage cannot
    be read, pages go on without on-the-fly search (None) and the read is tried again after
    RETRY seconds, so a dead store costs one timeout now and then, not one per request.
    """

    RETRY = 30.0  # seconds

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run_id: int | None = None
        self._space: StyleSpace | None = None
        self._added = 0  # the run's `added_photos` the space holds
        self._last_membership = 0  # the last added membership appended
        self._failed: tuple[int, float] | None = None  # (run id, when)

    def get(self, run: ClusterRun) -> StyleSpace | None:
        with self._lock:
            if self._run_id != run.pk:
                failed = self._failed
                if failed and failed[0] == run.pk and time.monotonic() - failed[1] < self.RETRY:
                    return None
                self._run_id, self._space = None, None
                self._added = self._last_membership = 0
                if run.space_file:
                    try:
                        self._space = open_index(run)
                    except Exception as exc:
                        self._failed = (run.pk, time.monotonic())
                        logger.error(
                            "Could not read the index of run %s (%s): %s",
                            run.pk,
                            run.space_file.name,
                            describe_storage_error(exc),
                        )
                        return None
                self._run_id, self._failed = run.pk, None
            if self._space is not None and run.added_photos != self._added:
                self._space, self._last_membership = with_additions(
                    run, self._space, self._last_membership
                )
                self._added = run.added_photos
            return self._space

    def put(self, run: ClusterRun, space: StyleSpace, last_membership: int) -> None:
        """This process made `space` (the run with photos added up to `last_membership`)."""
        with self._lock:
            self._run_id, self._space, self._failed = run.pk, space, None
            self._added, self._last_membership = run.added_photos, last_membership

    def clear(self) -> None:
        with self._lock:
            self._run_id, self._space, self._failed = None, None, None
            self._added = self._last_membership = 0


def with_additions(
    run: ClusterRun, space: StyleSpace, after_membership: int = 0
) -> tuple[StyleSpace, int]:
    """`space` with the photos that joined `run` after membership `after_membership` (and are
    not in it yet), embedded with the run's transforms; and the last such membership's id."""
    added = list(
        Membership.objects.filter(run=run, added=True, pk__gt=after_membership)
        .order_by("pk")
        .values_list("pk", "photo_id")
    )
    if not added:
        return space, after_membership
    photo_ids = [pid for _, pid in added if space.row(pid) is None]
    if photo_ids:
        features = load_vectors(photo_ids, run_extractors(run))
        if "style" in features:
            layout = run.config.get("cnn_layout")
            space = space.extended(
                np.asarray(photo_ids),
                embed(space, features, layout),
                embed_copies(space, features, layout),
            )
    return space, added[-1][0]


def run_extractors(run: ClusterRun) -> list[tuple[str, int]]:
    """The (extractor, version) pairs `run` was built with."""
    out = []
    for key in run.config.get("extractors", []):
        name, _, version = key.partition("@")
        out.append((name, int(version)))
    return out


space_cache = _SpaceCache()


def _thumbnail_subquery(photo_ref: str) -> Subquery:
    return Subquery(
        Rendition.objects.filter(photo=OuterRef(photo_ref), spec="thumb").values("file")[:1]
    )


def precomputed_neighbours(run: ClusterRun, photo: Photo, k: int) -> list[Recommendation]:
    """The stored neighbours of a photo in `run` that are still public: one query."""
    rows = (
        Neighbour.objects.filter(run=run, photo=photo)
        .filter(Photo.public_q("neighbour__"))
        .select_related("neighbour")
        .annotate(thumb=_thumbnail_subquery("neighbour"))
        .order_by("rank")[:k]
    )
    return [
        Recommendation(row.neighbour, row.score, i, row.reasons, row.thumb)
        for i, row in enumerate(rows, start=1)
    ]


def _photos_with_thumbs(ids: list[int]) -> dict[int, Photo]:
    photos = Photo.objects.filter(pk__in=ids).annotate(thumb=_thumbnail_subquery("pk"))
    return {photo.pk: photo for photo in photos}


def _style_vectors(ids: list[int]) -> dict[int, np.ndarray]:
    from .features import get_extractor

    style = get_extractor("style")
    rows = FeatureVector.objects.filter(
        photo_id__in=ids, extractor=style.name, version=style.version
    ).values_list("photo_id", "data")
    return {pid: np.frombuffer(bytes(data), dtype="<f4") for pid, data in rows}


def _scene_facts(ids: list[int]) -> dict[int, tuple]:
    rows = Photo.objects.filter(pk__in=ids).values_list(
        "pk", "taken_at", "camera_make", "camera_model", "lens"
    )
    return {pk: (taken, f"{make} {model}".strip(), lens) for pk, taken, make, model, lens in rows}


_NO_FACTS = (None, "", "")


def _rerank_by_scene(
    hits: list[tuple[int, float]], query_facts: tuple | None, k: int
) -> tuple[list[tuple[int, float]], dict[int, tuple]]:
    """Scene mode: content similarity plus the EXIF bonus (`modes.scene_bonus`); the hits, and
    each hit's (taken_at, camera, lens) for the reasons."""
    if query_facts is None or not any(query_facts):
        return hits[:k], {}
    facts = _scene_facts([photo_id for photo_id, _ in hits])
    scored = [
        (photo_id, score + scene_bonus(query_facts, facts.get(photo_id, _NO_FACTS)))
        for photo_id, score in hits
    ]
    return sorted(scored, key=lambda hit: -hit[1])[:k], facts


def _search(
    run: ClusterRun,
    space: StyleSpace,
    features: dict[str, np.ndarray],
    k: int,
    exclude: set[int],
    mode: Mode = Mode.DEFAULT,
    scene_facts: tuple | None = None,
) -> list[Recommendation]:
    searched = mode_space(space, mode) or space
    layout = run.config.get("cnn_layout")
    query = embed(searched, features, layout)
    copies = embed_copies(searched, features, layout)
    scene = searched is not space and mode == Mode.SCENE
    facts: dict[int, tuple] = {}
    if scene:
        hits = searched.search(
            query, max(k, SCENE_CANDIDATES), exclude=[exclude], query_copies=copies
        )[0]
        hits, facts = _rerank_by_scene(hits, scene_facts, k)
    else:
        hits = searched.search(query, k, exclude=[exclude], query_copies=copies)[0]
    ids = [photo_id for photo_id, _ in hits]
    photos = _photos_with_thumbs(ids)
    styles = _style_vectors(ids)
    source_style = features.get("style")
    out = []
    for photo_id, score in hits:
        photo = photos.get(photo_id)
        if photo is None or not photo.is_public:
            continue
        if scene:  # what matched is the subject (and the shoot), not the style
            why = scene_reasons(scene_facts, facts.get(photo_id, _NO_FACTS))
        else:
            why = reasons(source_style, styles.get(photo_id))
        out.append(Recommendation(photo, score, len(out) + 1, why, photo.thumb))
    return out


def mode_settings() -> ModeSettings:
    """The modes the photographer offers: one cache read (the row when the cache has lost it;
    saving the settings drops the cached copy)."""
    return cache.get_or_set(
        MODE_SETTINGS_CACHE_KEY, lambda: RecommenderSettings.load().mode_settings(), timeout=None
    )


def served_mode(mode: Mode) -> Mode:
    """The mode a list asked for in `mode` is served in: itself when the photographer offers it
    and the active run has its blocks, else the default list (a scene needs the CNN's content
    embedding)."""
    if mode == Mode.DEFAULT or mode not in mode_settings().offered:
        return Mode.DEFAULT
    run = active_run()
    space = space_cache.get(run) if run else None
    return mode if space is not None and mode_space(space, mode) is not None else Mode.DEFAULT


def similar_to_photo(photo: Photo, k: int = 10, mode: Mode = Mode.DEFAULT) -> list[Recommendation]:
    """Most similar public photos. The default list is precomputed when the photo is in the
    active run, else searched on the fly with the photo's stored vectors (new or unpublished
    photos); the other modes (`recommender.modes`) are searched in the run's view for them."""
    run = active_run()
    if run is None:
        return []
    if mode != Mode.DEFAULT:  # `served_mode` says whether the run can answer it
        space = space_cache.get(run)
        if space is None or mode_space(space, mode) is None:
            return []
        return _search_mode(run, space, photo, k, mode)
    stored = precomputed_neighbours(run, photo, k)
    if stored or run.n_photos < 2:
        return stored
    space = space_cache.get(run)
    if space is None:
        return []
    if space.row(photo.pk) is not None:
        return stored  # in the run, but its neighbours are all hidden now
    vectors = _stored_vectors(run, photo)
    if "style" not in vectors:  # not processed (yet): nothing to compare
        return []
    return _search(run, space, vectors, k, exclude={photo.pk})


def _photo_facts(photo: Photo) -> tuple:
    return (photo.taken_at, f"{photo.camera_make} {photo.camera_model}".strip(), photo.lens)


def _search_mode(
    run: ClusterRun, space: StyleSpace, photo: Photo, k: int, mode: Mode
) -> list[Recommendation]:
    vectors = _stored_vectors(run, photo)
    if "style" not in vectors:
        return []
    return _search(run, space, vectors, k, {photo.pk}, mode, _photo_facts(photo))


def _stored_vectors(run: ClusterRun, photo: Photo) -> dict[str, np.ndarray]:
    return {
        fv.extractor: fv.array
        for fv in FeatureVector.objects.filter(photo=photo)
        if f"{fv.extractor}@{fv.version}" in run.config.get("extractors", [])
    }


_QUERY_FEATURES = "stylefinder.query_features"


def query_features(image: Image.Image, run: ClusterRun | None = None) -> dict[str, np.ndarray]:
    """Raw features of an image that is not in the gallery, by the active run's extractors.

    Remembered on the image for that run, so the similar photos and the nearest albums of one
    upload cost one extraction.
    """
    run = run or active_run()
    if run is None:
        return {}
    cached = image.info.get(_QUERY_FEATURES)
    if cached is not None and cached[0] == run.pk:
        return cached[1]
    wanted = set(run.config.get("extractors", []))
    names = {key.partition("@")[0] for key in wanted}
    extractors = [e for e in configured_extractors(names) if f"{e.name}@{e.version}" in wanted]
    features: dict[str, np.ndarray] = {}
    if extractors:
        side = max(e.input_side for e in extractors)
        work = image.copy()
        if max(work.size) > side:
            work.thumbnail((side, side), Image.Resampling.LANCZOS)
        features = extract_image_features(work, extractors)
    image.info[_QUERY_FEATURES] = (run.pk, features)
    return features


def similar_to_image(
    image: Image.Image, k: int = 10, mode: Mode = Mode.DEFAULT, facts: tuple | None = None
) -> list[Recommendation]:
    """Most similar public photos for an image that is not in the gallery (an upload); `facts`
    (taken_at, camera, lens) from its EXIF serve the scene mode."""
    run = active_run()
    space = space_cache.get(run) if run else None
    if space is None:
        return []
    features = query_features(image, run)
    if "style" not in features:
        return []
    return _search(run, space, features, k, set(), mode, facts)
