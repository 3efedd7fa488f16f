"""Read-only queries of the public gallery (the views stay thin; DESIGN.md §8).

Gallery order is newest first: `-created_at`, then `-id` so photos created in the same instant
still have one stable order. "Previous" is the neighbour shown before a photo in that order (the
newer one), "next" the one after it (the older one).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404
from PIL import Image

from experiments.strategies import recommend_for_image, recommend_for_photo
from photos.imaging import exif_facts
from photos.models import Photo
from recommender import albums
from recommender.models import Album, Cluster
from recommender.modes import Mode
from recommender.selectors import Recommendation, active_run, mode_settings
from recommender.selectors import similar_to_image as recommender_similar_to_image
from recommender.selectors import similar_to_photo as recommender_similar_to_photo

GALLERY_ORDER = ("-created_at", "-id")
SIMILAR_ON_PHOTO_PAGE = 8
SIMILAR_TO_UPLOAD = 12
ALBUMS_FOR_UPLOAD = 3
# An album is "in the style" of an upload only when its centre of style is on the upload's side
# of the space (cosine above this); an album of the opposite style is never suggested.
MIN_ALBUM_SCORE = 0.0


def gallery_page_size() -> int:
    return max(1, int(settings.STYLEFINDER_GALLERY_PAGE_SIZE))


def public_photos() -> QuerySet[Photo]:
    """Every photo a visitor may see, with renditions, in gallery order."""
    return Photo.objects.public().with_renditions().order_by(*GALLERY_ORDER)


def gallery_page(page_number: str | int | None) -> Page:
    """One page of the public gallery.

    `None` or "" is the first page and "last" the last one. Anything else that is not a page
    of the gallery (not a number, below 1, past the end) raises `Http404`, never a server error.
    """
    return _page(Paginator(public_photos(), gallery_page_size()), page_number, "gallery")


def _page(paginator: Paginator, page_number: str | int | None, what: str) -> Page:
    if page_number in (None, ""):
        page_number = 1
    elif page_number == "last":
        page_number = paginator.num_pages
    try:
        return paginator.page(page_number)
    except InvalidPage as exc:  # PageNotAnInteger or EmptyPage
        raise Http404(f"No such {what} page.") from exc


def photo_for_viewer(pk: int, *, is_staff: bool) -> tuple[Photo, bool]:
    """The photo `pk` with its renditions and whether it is public.

    The photo's album in the active run comes with it, in the same query: read it with
    `album_of(photo)`.

    Visitors only get public photos (anything else is a 404); staff get any photo so they can
    preview what is unpublished, still processing or failed.
    """
    photos = albums.with_album(Photo.objects.with_renditions())
    if not is_staff:
        photo = photos.public().filter(pk=pk).first()
        if photo is None:
            raise Http404("No such photo.")
        return photo, True
    photo = photos.filter(pk=pk).first()
    if photo is None:
        raise Http404("No such photo.")
    return photo, Photo.objects.public().filter(pk=photo.pk).exists()


def album_of(photo: Photo) -> Album | None:
    """The visible album of a photo loaded by `photo_for_viewer` (no query)."""
    return albums.album_from_annotations(photo)


def _newer_than(photo: Photo) -> Q:
    return Q(created_at__gt=photo.created_at) | Q(created_at=photo.created_at, id__gt=photo.pk)


def _older_than(photo: Photo) -> Q:
    return Q(created_at__lt=photo.created_at) | Q(created_at=photo.created_at, id__lt=photo.pk)


@dataclass(frozen=True)
class Neighbours:
    previous: Photo | None  # shown before the photo in the gallery (newer)
    next: Photo | None  # shown after it (older)


def photo_neighbours(photo: Photo) -> Neighbours:
    """The public photos just before and just after `photo` in gallery order.

    Works for a photo that is not public itself (a staff preview): its neighbours are the public
    photos around the place it would take.
    """
    public = Photo.objects.public().only("id", "title", "original_filename", "created_at")
    previous = public.filter(_newer_than(photo)).order_by("created_at", "id").first()
    following = public.filter(_older_than(photo)).order_by(*GALLERY_ORDER).first()
    return Neighbours(previous=previous, next=following)


def gallery_page_number_of(photo: Photo) -> int:
    """The gallery page on which `photo` appears (or would appear), for "back to gallery"."""
    before = Photo.objects.public().filter(_newer_than(photo)).count()
    return before // gallery_page_size() + 1


def _similar_limit(k: int) -> int:
    return max(1, min(k, int(settings.STYLEFINDER_MAX_SIMILAR)))


def similar_to_photo(
    photo: Photo, strategy: str, k: int = SIMILAR_ON_PHOTO_PAGE
) -> list[Recommendation]:
    """The photos `strategy` shows under `photo` (the strategy of the visitor's A/B assignment,
    `Assignment.strategy`, not the variant's name): public, never the photo itself.

    For `style_knn` the recommender reads the precomputed neighbours of the active run (one
    query; the first reader after photos changed pays for a rebuild of the index).
    """
    results = recommend_for_photo(photo, strategy, _similar_limit(k))
    return _visible([r for r in results if r.photo.pk != photo.pk])


SAME_SCENE_ON_PHOTO_PAGE = 6
SAME_SCENE_MIN_NEW = 2  # a "Same scene" strip must add at least this many photos


def same_scene(photo: Photo, shown: set[int]) -> list[Recommendation]:
    """The "Same scene" strip under the photo: photos of the same subject and shoot
    (`Mode.SCENE`) that the similar-style strip does not show already; empty when it would add
    fewer than `SAME_SCENE_MIN_NEW`, when the photographer turned the strip off, or when the
    site cannot see scenes (no CNN)."""
    if not mode_settings().same_scene_strip:
        return []
    seen = set(shown) | {photo.pk}
    wanted = SAME_SCENE_ON_PHOTO_PAGE + len(seen)
    results = [
        r
        for r in _visible(recommender_similar_to_photo(photo, _similar_limit(wanted), Mode.SCENE))
        if r.photo.pk not in seen
    ][:SAME_SCENE_ON_PHOTO_PAGE]
    return results if len(results) >= SAME_SCENE_MIN_NEW else []


def similar_to_upload(
    image: Image.Image, strategy: str, mode: Mode = Mode.DEFAULT, k: int = SIMILAR_TO_UPLOAD
) -> list[Recommendation]:
    """The public photos most like a visitor's image (decoded in memory, never stored); none
    for the `none` strategy. Another `mode` than the default is the visitor's explicit
    question, answered outside the experiment."""
    if mode != Mode.DEFAULT:
        return _visible(
            recommender_similar_to_image(image, _similar_limit(k), mode, exif_facts(image))
        )
    return _visible(recommend_for_image(image, strategy, _similar_limit(k)))


def _visible(results: list[Recommendation]) -> list[Recommendation]:
    """Belt and braces: the recommender only returns public photos; never show anything else."""
    return [r for r in results if r.photo.is_public]


# --- Albums --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlbumsOverview:
    analysed: bool  # an active run exists (albums are shown once the library has been analysed)
    cards: list[albums.AlbumCard]


def albums_overview() -> AlbumsOverview:
    """The public albums of the active run, largest first (three queries)."""
    run = active_run()
    return AlbumsOverview(analysed=run is not None, cards=albums.public_albums(run))


def album_page(album_id: int, page_number: str | int | None) -> tuple[Cluster, Page]:
    """A visible album of the active run and one page of its public photos, nearest the
    album's centre of style first (a page's `object_list` holds `Membership`s).

    A hidden album, one that is not part of the active run, or a page that does not exist is a 404.
    """
    cluster = albums.album_cluster(album_id)
    if cluster is None:
        raise Http404("No such album.")
    paginator = Paginator(albums.album_memberships(cluster), gallery_page_size())
    return cluster, _page(paginator, page_number, "album")


def albums_like_upload(image: Image.Image, k: int = ALBUMS_FOR_UPLOAD) -> list[albums.AlbumCard]:
    """The visible albums whose style is nearest a visitor's image (at most `k`, best first)."""
    cards = albums.nearest_albums_for_image(image, k)
    return [card for card in cards if card.score is not None and card.score > MIN_ALBUM_SCORE]
