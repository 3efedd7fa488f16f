"""Albums: the public face of clusters.

Write side (called by the re-cluster orchestration when it writes a run):

- `naming.describe_cluster` names a cluster from its members' raw style vectors.
- `match_albums` carries albums over from the previous run: a new cluster that is essentially an
  old album (Jaccard overlap of their photo sets) keeps that album, with the photographer's title
  and visibility.

Read side (the public album pages and "find photos like yours"): the visible albums of the active
run with their covers, an album's photos nearest the centroid first, the album of a photo, and the
albums nearest an uploaded image (cosine to each cluster's centroid in the active run's space).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from PIL import Image

from photos.models import Photo, Rendition

from .blocks import embed
from .models import Album, Cluster, ClusterRun, Membership
from .naming import NAME_SEPARATOR

# --- matching clusters to the previous run's albums ---------------------------------------------


def match_albums(
    previous: dict[int, set[int]], clusters: list[set[int]], min_overlap: float = 0.5
) -> list[int | None]:
    """For each new cluster (set of photo ids), the album id whose previous member set it
    essentially is: Jaccard >= min_overlap, one-to-one (greedy best-first), else None.

    Ties go to the larger shared set, then to the earlier cluster and the older album, so the
    result does not depend on dict order. Runs in time linear in the number of photos.
    """
    albums_of: dict[int, list[int]] = defaultdict(list)
    for album_id, members in previous.items():
        for photo_id in members:
            albums_of[photo_id].append(album_id)

    candidates: list[tuple[float, int, int, int]] = []
    for index, members in enumerate(clusters):
        shared = Counter(album for photo_id in members for album in albums_of.get(photo_id, ()))
        for album_id, inter in shared.items():
            union = len(members) + len(previous[album_id]) - inter
            jaccard = inter / union if union else 0.0
            if jaccard >= min_overlap:
                candidates.append((jaccard, inter, index, album_id))
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2], c[3]))

    matched: list[int | None] = [None] * len(clusters)
    taken: set[int] = set()
    for _, _, index, album_id in candidates:
        if matched[index] is None and album_id not in taken:
            matched[index] = album_id
            taken.add(album_id)
    return matched


# --- read side ------------------------------------------------------------------------------------


def _public(prefix: str = "") -> Q:
    return Photo.public_q(prefix)


@dataclass
class AlbumCard:
    """One album as a card: its name, size and cover thumbnail (what the pages show)."""

    album: Album
    cluster_id: int
    attributes: list[str]
    count: int  # public photos in the album
    cover: Photo | None = None
    cover_thumb: Rendition | None = None
    score: float | None = None  # cosine to a query (nearest_albums)

    @property
    def name(self) -> str:
        return self.album.name

    @property
    def url(self) -> str:
        return self.album.get_absolute_url()

    @property
    def name_parts(self) -> list[NamePart]:
        return name_parts(self.name)


#: a part of an album's name this short is never broken across lines ("low-|key")
UNBROKEN_PART = 30


@dataclass(frozen=True)
class NamePart:
    text: str
    last: bool

    @property
    def unbroken(self) -> bool:
        return len(self.text) <= UNBROKEN_PART


def name_parts(name: str) -> list[NamePart]:
    """An album's name split at its " · " separators, to lay it out without breaking a part."""
    parts = [part for part in name.split(NAME_SEPARATOR) if part]
    return [NamePart(part, i == len(parts) - 1) for i, part in enumerate(parts)]


def _cards(clusters: QuerySet[Cluster]) -> list[AlbumCard]:
    """Cards for visible albums among `clusters`: two queries (clusters, cover thumbnails)."""
    nearest_public = (
        Membership.objects.filter(cluster=OuterRef("pk"))
        .filter(_public("photo__"))
        .order_by("distance", "photo_id")
        .values("photo_id")[:1]
    )
    rows = list(
        clusters.filter(album__isnull=False, album__hidden=False)
        .select_related("album", "cover")
        .annotate(
            public_count=Count("memberships", filter=_public("memberships__photo__")),
            nearest_public=Subquery(nearest_public),
        )
        .filter(public_count__gt=0)
        .order_by("-public_count", "album_id")
    )
    cover_ids = {}
    for cluster in rows:
        cover = cluster.cover
        usable = cover is not None and cover.is_public
        cover_ids[cluster.pk] = cover.pk if usable else cluster.nearest_public
    thumbs = {
        rendition.photo_id: rendition
        for rendition in Rendition.objects.filter(
            photo_id__in=[pk for pk in cover_ids.values() if pk], spec="thumb"
        ).select_related("photo")
    }
    cards = []
    for cluster in rows:
        thumb = thumbs.get(cover_ids[cluster.pk])
        cards.append(
            AlbumCard(
                album=cluster.album,
                cluster_id=cluster.pk,
                attributes=list(cluster.attributes or []),
                count=cluster.public_count,
                cover=thumb.photo if thumb else None,
                cover_thumb=thumb,
            )
        )
    return cards


def public_albums(run: ClusterRun | None) -> list[AlbumCard]:
    """The visible albums of `run` (the active run) with a public photo, largest first."""
    if run is None:
        return []
    return _cards(Cluster.objects.filter(run=run))


def album_cluster(album_id: int) -> Cluster | None:
    """The active run's cluster of a visible album, with its album (one query); None when the
    album is hidden or not part of the active run."""
    return (
        Cluster.objects.filter(run__is_active=True, album_id=album_id, album__hidden=False)
        .select_related("album")
        .first()
    )


def album_memberships(cluster: Cluster) -> QuerySet[Membership]:
    """The public photos of `cluster`, nearest the centroid first, photos and renditions
    loaded: paginate it and read `membership.photo`."""
    return (
        Membership.objects.filter(cluster=cluster)
        .filter(_public("photo__"))
        .select_related("photo")
        .prefetch_related("photo__renditions")
        .order_by("distance", "photo_id")
    )


def _album_of_photo_subquery(column: str) -> Subquery:
    return Subquery(
        Membership.objects.filter(
            photo=OuterRef("pk"),
            run__is_active=True,
            cluster__album__isnull=False,
            cluster__album__hidden=False,
        ).values(f"cluster__album__{column}")[:1]
    )


def with_album(photos: QuerySet[Photo]) -> QuerySet[Photo]:
    """`photos` annotated with their visible album in the active run (no extra query); read it
    with `album_from_annotations(photo)`."""
    return photos.annotate(
        album_pk=_album_of_photo_subquery("id"),
        album_title=_album_of_photo_subquery("title"),
        album_auto_name=_album_of_photo_subquery("auto_name"),
    )


def album_from_annotations(photo: Photo) -> Album | None:
    pk = getattr(photo, "album_pk", None)
    if pk is None:
        return None
    return Album(pk=pk, title=photo.album_title or "", auto_name=photo.album_auto_name or "")


def album_of_photo(photo: Photo | int) -> Album | None:
    """The visible album `photo` belongs to in the active run (one query), or None."""
    photo_id = photo.pk if isinstance(photo, Photo) else photo
    return (
        Album.objects.filter(
            hidden=False,
            clusters__run__is_active=True,
            clusters__memberships__photo_id=photo_id,
        )
        .distinct()
        .first()
    )


# --- nearest albums for a query image ------------------------------------------------------------


@dataclass(frozen=True)
class Centroids:
    cluster_ids: np.ndarray  # (c,)
    matrix: np.ndarray  # (c, dim), rows L2-normalised


class _CentroidCache:
    """Each cluster's centroid in the active run's space, computed once per run.

    A run's memberships are written before it becomes active and never change afterwards, so the
    centroids can be kept for as long as the run stays active. The key includes the creation time
    as well as the id, because a database may reuse the id of a deleted run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._centroids: Centroids | None = None

    def get(self, run: ClusterRun, space) -> Centroids:
        key = (run.pk, run.created_at, len(space))
        with self._lock:
            if self._key != key or self._centroids is None:
                self._centroids = compute_centroids(run, space)
                self._key = key
            return self._centroids

    def clear(self) -> None:
        with self._lock:
            self._key, self._centroids = None, None


centroid_cache = _CentroidCache()


def compute_centroids(run: ClusterRun, space) -> Centroids:
    """Each cluster's centre: the fitted one the index file keeps, or (files written before it
    kept them) the normalised mean of the members' rows in `space` (members without a row are
    left out, and so are clusters without any)."""
    if space.centres is not None:
        return Centroids(space.centres.cluster_ids, space.centres.matrix)
    rows_of: dict[int, list[int]] = defaultdict(list)
    for cluster_id, photo_id in Membership.objects.filter(run=run).values_list(
        "cluster_id", "photo_id"
    ):
        row = space.row(photo_id)
        if row is not None:
            rows_of[cluster_id].append(row)
    cluster_ids = sorted(rows_of)
    if not cluster_ids:
        return Centroids(np.zeros(0, np.int64), np.zeros((0, space.dim), np.float32))
    matrix = np.stack([space.rows_at(rows_of[c]).mean(axis=0) for c in cluster_ids])
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms < 1e-12] = 1.0
    return Centroids(np.asarray(cluster_ids, np.int64), (matrix / norms).astype(np.float32))


def nearest_albums(query: Mapping[str, np.ndarray] | np.ndarray, k: int = 3) -> list[AlbumCard]:
    """The `k` visible albums of the active run whose centroids are nearest `query`, best first,
    each with its cosine `score`.

    `query` is either raw extractor outputs ({"style": vector, …}, embedded here with the run's
    transforms) or a row of the run's space.
    """
    from .selectors import active_run, space_cache

    run = active_run()
    space = space_cache.get(run) if run is not None else None
    if space is None or k < 1:
        return []
    centroids = centroid_cache.get(run, space)
    if not len(centroids.cluster_ids):
        return []
    if isinstance(query, Mapping):
        row = embed(space, query, run.config.get("cnn_layout"))[0]
    else:
        row = np.asarray(query, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(row))
        row = row / norm if norm > 1e-12 else row
    scores = centroids.matrix @ row
    score_of = {int(c): float(s) for c, s in zip(centroids.cluster_ids, scores, strict=True)}
    cards = _cards(Cluster.objects.filter(run=run, pk__in=list(score_of)))
    for card in cards:
        card.score = score_of[card.cluster_id]
    cards.sort(key=lambda card: (-card.score, card.album.pk))
    return cards[:k]


def nearest_albums_for_image(image: Image.Image, k: int = 3) -> list[AlbumCard]:
    """`nearest_albums` for an image outside the gallery (analysed in memory, never stored)."""
    from .selectors import query_features

    features = query_features(image)
    if "style" not in features:
        return []
    return nearest_albums(features, k)
