"""The public site: the gallery grid and the photo page.

Views stay thin: queries live in `gallery.selectors`; what is computed here is only how a photo is
presented (which rendition files go into `srcset`, how wide a tile is).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_safe

from photos.models import Photo

from . import selectors

# Justified rows (static/gallery/site.css): a tile's aspect ratio is rounded to a multiple of
# 1/RATIO_STEPS and clamped, and named by a class `r-N` with N = ratio * RATIO_STEPS. The CSS
# has one rule per class, so no inline style is needed (a strict CSP can forbid them).
RATIO_STEPS = 20
MIN_RATIO_CLASS = 10  # 1:2, a tall portrait
MAX_RATIO_CLASS = 60  # 3:1, a panorama
# How wide a tile is drawn, to tell the browser which file to fetch (`sizes`): the row height
# of the justified rows in site.css is about 100vw / 3.1 on small screens and at most 17rem
# (272px) on larger ones, and a row may stretch by about a third to fill the width.
SMALL_SCREEN_ROW_VW = 100 / 3.1
LARGE_SCREEN_ROW_PX = 272
ROW_STRETCH = 1.5


@dataclass(frozen=True)
class Picture:
    """Everything an `<img>` of a photo needs: one `src`, a `srcset` and intrinsic size."""

    src: str
    srcset: str
    width: int
    height: int

    @property
    def ratio(self) -> float:
        return self.width / self.height if self.height else 1.0

    @property
    def stage_sizes(self) -> str:
        """`sizes` on the photo page: the stage is at most 90rem wide and one screen high."""
        return f"min(100vw, 90rem, (100vh - 9rem) * {self.ratio:.3f})"


def picture(photo: Photo, specs: Iterable[str]) -> Picture | None:
    """A `Picture` from the renditions `specs` (smallest first) that exist, or None.

    Small originals are never upscaled, so two specs can have the same width: the `srcset` lists
    each width once. The `src` (for browsers without `srcset`) is the largest rendition.
    """
    renditions = [r for r in (photo.rendition(spec) for spec in specs) if r is not None]
    if not renditions:
        return None
    by_width = {}
    for rendition in renditions:
        by_width.setdefault(rendition.width, rendition)
    candidates = sorted(by_width.values(), key=lambda r: r.width)
    largest = candidates[-1]
    return Picture(
        src=largest.file.url,
        srcset=", ".join(f"{r.file.url} {r.width}w" for r in candidates),
        width=largest.width,
        height=largest.height,
    )


@dataclass(frozen=True)
class Tile:
    """One photo of the gallery grid."""

    photo: Photo
    image: Picture

    @property
    def ratio_class(self) -> str:
        steps = round(self.image.ratio * RATIO_STEPS)
        return f"r-{min(MAX_RATIO_CLASS, max(MIN_RATIO_CLASS, steps))}"

    @property
    def sizes(self) -> str:
        ratio = min(MAX_RATIO_CLASS, max(MIN_RATIO_CLASS, self.image.ratio * RATIO_STEPS))
        ratio /= RATIO_STEPS
        small = min(100, math.ceil(ratio * SMALL_SCREEN_ROW_VW * ROW_STRETCH))
        large = math.ceil(ratio * LARGE_SCREEN_ROW_PX * ROW_STRETCH)
        return f"(max-width: 40em) {small}vw, {large}px"


def _admin_photos_url() -> str:
    """Where staff add photos: the photo admin once it is registered, else the admin index."""
    for name in ("admin:photos_photo_changelist", "admin:index"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return ""


def _is_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff)


@require_safe
def gallery_index(request: HttpRequest) -> HttpResponse:
    is_staff = _is_staff(request)
    page = selectors.gallery_page(request.GET.get("page"))
    tiles = []
    for photo in page.object_list:
        image = picture(photo, ("thumb", "medium"))
        if image is not None:  # a ready photo always has renditions; be safe anyway
            tiles.append(Tile(photo=photo, image=image))
    elided_range = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    return render(
        request,
        "gallery/index.html",
        {
            "page_obj": page,
            "paginator": page.paginator,
            "tiles": tiles,
            "page_range": list(elided_range),
            "ellipsis": page.paginator.ELLIPSIS,
            "is_staff": is_staff,
            "admin_photos_url": _admin_photos_url() if is_staff else "",
        },
    )


def gallery_url(page_number: int, photo: Photo | None = None) -> str:
    url = reverse("gallery:index")
    if page_number > 1:
        url += f"?page={page_number}"
    if photo is not None:
        url += f"#photo-{photo.pk}"
    return url


def _preview_reasons(photo: Photo) -> list[str]:
    """Why visitors cannot see `photo`, for the notice on a staff preview."""
    reasons = []
    if photo.status == Photo.Status.PENDING:
        reasons.append("it is still being processed")
    elif photo.status == Photo.Status.FAILED:
        error = f" ({photo.error[:160]})" if photo.error else ""
        reasons.append(f"processing failed{error}")
    if not photo.published:
        reasons.append("it is not published")
    return reasons or ["it is not public"]


@require_safe
def photo_detail(request: HttpRequest, pk: int) -> HttpResponse:
    is_staff = _is_staff(request)
    photo, is_public = selectors.photo_for_viewer(pk, is_staff=is_staff)
    neighbours = selectors.photo_neighbours(photo)
    image = picture(photo, ("medium", "display"))
    og_image = request.build_absolute_uri(image.src) if image and is_public else ""
    return render(
        request,
        "gallery/photo.html",
        {
            "photo": photo,
            "image": image,
            "is_public": is_public,
            "preview_reasons": [] if is_public else _preview_reasons(photo),
            "previous_photo": neighbours.previous,
            "next_photo": neighbours.next,
            "back_url": gallery_url(selectors.gallery_page_number_of(photo), photo),
            "og_image": og_image,
            "canonical_url": request.build_absolute_uri(photo.get_absolute_url()),
            "exif": photo.exif_summary,
        },
    )
