"""The public site: the gallery grid, the photo page, "find photos like yours" and the page that
documents the embeddable widget.

Views stay thin: queries live in `gallery.selectors`; what is computed here is only how a photo is
presented (which renditions a tile or the photo page offers, how wide a tile is drawn, how a
recommendation's reasons read). The `<img>` itself is the `{% picture %}` tag's (photos app).
"""

from __future__ import annotations

import base64
import io
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.paginator import Page
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_http_methods, require_safe
from PIL import Image

from config.throttling import SimilarUploadThrottle
from experiments.assignment import Assignment, assignment_for
from experiments.events import page_view_token
from experiments.models import Strategy
from experiments.tokens import impression_token
from photos.models import Photo
from photos.renditions import SPECS, Picture, picture
from photos.uploads import QueryBusy
from recommender.albums import AlbumCard, name_parts
from recommender.modes import Mode
from recommender.selectors import Recommendation, served_mode
from recommender.services import request_recluster_if_stale

from . import page_cache, selectors
from .forms import WIDGET_DEFAULT_COUNT, WIDGET_DEFAULT_TITLE, FindSimilarForm, WidgetSnippetForm
from .social import social_card

logger = logging.getLogger(__name__)

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


def stage_sizes(image: Picture) -> str:
    """`sizes` on the photo page: the stage is at most 90rem wide and one screen high."""
    return f"min(100vw, 90rem, (100vh - 9rem) * {image.ratio:.3f})"


#: Below this width (px, of the largest rendition) a photo is shown at its own size beside its
#: title and details on wide screens, instead of small and alone above an empty band.
COMPACT_STAGE_MAX_WIDTH = 960


def compact_stage(image: Picture | None) -> bool:
    return image is not None and image.width < COMPACT_STAGE_MAX_WIDTH


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


def tiles_for(photos: Iterable[Photo]) -> list[Tile]:
    """Grid tiles of photos loaded with their renditions."""
    tiles = []
    for photo in photos:
        image = picture(photo, ("thumb", "medium"))
        if image is not None:  # a ready photo always has renditions; be safe anyway
            tiles.append(Tile(photo=photo, image=image))
    return tiles


def _grid_context(page: Page, photos: Iterable[Photo]) -> dict:
    """What a paginated photo grid needs (the gallery and album pages)."""
    elided_range = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    return {
        "page_obj": page,
        "paginator": page.paginator,
        "tiles": tiles_for(photos),
        "page_range": list(elided_range),
        "ellipsis": page.paginator.ELLIPSIS,
    }


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
    return render(
        request,
        "gallery/index.html",
        {
            **_grid_context(page, page.object_list),
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


# --- Similar photos ------------------------------------------------------------------------------

THUMB_SIDE = next(spec.max_side for spec in SPECS if spec.name == "thumb")
PREVIEW_SIDE = 480  # the visitor's own photo, shown beside the results (a data: URL, never stored)
PREVIEW_QUALITY = 80


def fit_within(width: int, height: int, side: int) -> tuple[int, int]:
    """The size of a `width`×`height` picture scaled down (never up) to fit a `side` square."""
    if width < 1 or height < 1:
        return side, side
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


REASON_SEPARATOR = " · "


def reasons_parts(reasons: Iterable[str]) -> list[str]:
    """The reasons to show, the first one capitalised: ["Black & white", "low-key"]."""
    parts = [reason.strip() for reason in reasons if reason and reason.strip()]
    if parts:
        parts[0] = parts[0][:1].upper() + parts[0][1:]
    return parts


def reasons_caption(reasons: Iterable[str]) -> str:
    """["black & white", "low-key"] → "Black & white · low-key"."""
    return REASON_SEPARATOR.join(reasons_parts(reasons))


@dataclass(frozen=True)
class SimilarItem:
    """One recommended photo as a thumbnail link: what `_recommendations.html` shows."""

    photo: Photo
    position: int  # 1-based place in the list as shown (logged with clicks)
    score: float  # cosine similarity, -1…1
    reasons: tuple[str, ...]  # as shown: the first one capitalised
    src: str
    width: int
    height: int

    @property
    def image(self) -> Picture:
        """The thumbnail, for `{% picture %}`."""
        return Picture(self.src, "", self.width, self.height, alt=self.photo.alt_text)

    @property
    def similarity_percent(self) -> int:
        return round(max(0.0, min(1.0, self.score)) * 100)


def similar_items(recommendations: Iterable[Recommendation]) -> list[SimilarItem]:
    """Recommendations with a thumbnail, numbered in the order shown."""
    items: list[SimilarItem] = []
    for recommendation in recommendations:
        src = recommendation.thumbnail_url
        if not src:  # a ready photo always has its thumbnail; be safe anyway
            continue
        photo = recommendation.photo
        width, height = fit_within(photo.width, photo.height, THUMB_SIDE)
        items.append(
            SimilarItem(
                photo=photo,
                position=len(items) + 1,
                score=float(recommendation.score),
                reasons=tuple(reasons_parts(recommendation.reasons)),
                src=src,
                width=width,
                height=height,
            )
        )
    return items


@dataclass(frozen=True)
class Preview:
    """The visitor's photo as a small JPEG in a data: URL (made in memory, never written)."""

    src: str
    width: int
    height: int


def preview_of(image: Image.Image, side: int = PREVIEW_SIDE) -> Preview:
    small = image.convert("RGB")  # a copy: the caller's image is left as it is
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=PREVIEW_QUALITY, optimize=True)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Preview(f"data:image/jpeg;base64,{encoded}", small.width, small.height)


def _similar_to_photo(photo: Photo, strategy: str) -> list[SimilarItem]:
    """The "Similar style" strip; a broken recommender must not take the photo page down."""
    try:
        return similar_items(selectors.similar_to_photo(photo, strategy))
    except Exception:
        logger.exception("Similar photos for photo %s (strategy %s) failed", photo.pk, strategy)
        return []


def _same_scene(photo: Photo, similar: list[SimilarItem]) -> list[SimilarItem]:
    """The optional "Same scene" strip; a failure only hides it."""
    try:
        return similar_items(selectors.same_scene(photo, {item.photo.pk for item in similar}))
    except Exception:
        logger.exception("Same-scene photos for photo %s failed", photo.pk)
        return []


def shows_recommendations(assignment: Assignment) -> bool:
    """False for the `none` variant: its visitors see no recommendation list at all (not even
    an empty "Similar style" section), so the control page differs only by the missing strip."""
    return assignment.strategy != Strategy.NONE


def _impression(
    request: HttpRequest,
    assignment: Assignment,
    source: str,
    source_photo: int | None,
    items: list[SimilarItem],
) -> str:
    """The signed token the browser posts back once the list is seen ("" when nothing is shown:
    no list, no token, so no impression can be logged)."""
    if not items:
        return ""
    triples = [(item.photo.pk, item.position, item.score) for item in items]
    return impression_token(request, assignment, source, source_photo, triples)


@require_safe
def photo_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A photo's page. Rendered once per photo and A/B variant and cached (`page_cache`); each
    request fills in its visitor's impression token and page view."""
    is_staff = _is_staff(request)
    assignment = assignment_for(request)
    page_key = None
    if page_cache.cacheable(assignment, is_staff):
        page_key = page_cache.key(request, "photo", pk, assignment)
    page, is_public = page_cache.get(page_key), True
    request_recluster_if_stale()  # the page reads the active run either way
    if page is None:
        page, is_public = _render_photo_page(request, pk, is_staff, assignment)
        if is_public:
            page_cache.put(page_key, page)
    # A staff preview of a photo visitors cannot see is not part of the experiment.
    token = ""
    if is_public and page.items:
        token = impression_token(request, assignment, "photo", pk, page.items)
    values = {"impression": token, "page-view": page_view_token(request.visitor_id)}
    return HttpResponse(page_cache.fill(page, values))


def _render_photo_page(
    request: HttpRequest, pk: int, is_staff: bool, assignment: Assignment
) -> tuple[page_cache.CachedPage, bool]:
    """The photo page with placeholders for the visitor's own values, and whether the photo is
    public (Http404 when the viewer may not see it)."""
    photo, is_public = selectors.photo_for_viewer(pk, is_staff=is_staff)
    neighbours = selectors.photo_neighbours(photo)
    image = picture(photo, ("medium", "display"))
    card = (
        social_card(
            request,
            kind="article",
            site_name=settings.STYLEFINDER_SITE_TITLE,
            title=photo.display_title,
            description=photo.description
            or f"{photo.display_title}, a photograph by {settings.STYLEFINDER_SITE_TITLE}.",
            path=photo.get_absolute_url(),
            image=image,
        )
        if is_public
        else None
    )
    show_similar = shows_recommendations(assignment)
    similar = _similar_to_photo(photo, assignment.strategy) if show_similar else []
    scene = _same_scene(photo, similar) if show_similar else []
    items = tuple((item.photo.pk, item.position, item.score) for item in similar)
    html = render_to_string(
        "gallery/photo.html",
        {
            "photo": photo,
            "image": image,
            "stage_sizes": stage_sizes(image) if image else "",
            "compact_stage": compact_stage(image),
            "is_public": is_public,
            "preview_reasons": [] if is_public else _preview_reasons(photo),
            "previous_photo": neighbours.previous,
            "next_photo": neighbours.next,
            "back_url": gallery_url(selectors.gallery_page_number_of(photo), photo),
            "social_card": card,
            "canonical_url": request.build_absolute_uri(photo.get_absolute_url()),
            "exif": photo.exif_summary,
            "assignment": assignment,
            "show_similar": show_similar,
            "similar": similar,
            "same_scene": scene,
            "impression_token": page_cache.placeholder("impression") if items and is_public else "",
            "page_view_token": page_cache.placeholder("page-view"),
            "album": selectors.album_of(photo),
        },
        request,
    )
    return page_cache.CachedPage(html, items), is_public


def _albums_like(image: Image.Image) -> list[AlbumCard]:
    """The "Albums in this style" cards under the results; optional, a failure only hides them."""
    try:
        return selectors.albums_like_upload(image)
    except Exception:
        logger.exception("Nearest albums for an upload failed")
        return []


@require_http_methods(["GET", "HEAD", "POST"])
def find_similar(request: HttpRequest) -> HttpResponse:
    """Upload a photo, see the gallery's photos of the same style. The upload is analysed in
    memory and discarded: no file is written to storage, nothing is added to the database."""
    request_recluster_if_stale()  # the search reads the active run either way
    assignment = assignment_for(request)
    context = {
        "assignment": assignment,
        "show_similar": shows_recommendations(assignment),
        "impression_token": "",
        "preview": None,
        "upload_name": "",
        "results": None,
        "albums": [],
        "max_upload_bytes": int(settings.STYLEFINDER_MAX_UPLOAD_BYTES),
    }
    status = 200
    throttle = SimilarUploadThrottle()
    if request.method == "POST" and not throttle.allow_request(request, None):
        # The API's allowance for image uploads, shared: checked before the body is read.
        wait = max(1, math.ceil(throttle.wait() or 1))
        context["throttled"] = (
            "You have compared many photos in a short time. "
            f"Please try again in {wait} second{'s' if wait != 1 else ''}."
        )
        context["form"] = FindSimilarForm()
        response = render(request, "gallery/find_similar.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response
    if request.method == "POST":
        form = FindSimilarForm(request.POST, request.FILES)
        if form.is_valid():
            image = form.query_image
            asked = form.cleaned_data["mode"]
            mode = served_mode(asked)
            try:
                results = similar_items(
                    selectors.similar_to_upload(image, assignment.strategy, mode)
                )
            except Exception:
                # Our side, not the visitor's file: say so, and never show a server error page.
                logger.exception(
                    "Similar photos for an upload (strategy %s) failed", assignment.strategy
                )
                form.add_error(
                    None, "We could not compare your photo right now. Please try again later."
                )
                status = 503
            else:
                context["preview"] = preview_of(image)
                context["upload_name"] = form.cleaned_data["image"].name or ""
                context["results"] = results
                context["mode"] = mode
                if mode != asked:  # offered, but this run cannot answer it (no CNN: no scenes)
                    context["mode_fallback"] = "scenes" if asked == Mode.SCENE else "looks"
                # Only the default list is the experiment's: another mode logs no impression.
                if mode == Mode.DEFAULT:
                    context["impression_token"] = _impression(
                        request, assignment, "upload", None, results
                    )
                if results:
                    context["albums"] = _albums_like(image)
        elif form.has_error("image", code="busy"):
            status = 503
        else:
            status = 400
    else:
        form = FindSimilarForm()
    context["form"] = form
    response = render(request, "gallery/find_similar.html", context, status=status)
    if status == 503:
        response["Retry-After"] = str(QueryBusy.retry_after)
    if request.method == "POST":
        add_never_cache_headers(response)  # the page holds the visitor's own photo
    return response


# --- Albums --------------------------------------------------------------------------------------


@require_safe
def albums_index(request: HttpRequest) -> HttpResponse:
    """Every visible album of the active run as a card: cover, name and number of photos."""
    overview = selectors.albums_overview()
    return render(
        request,
        "gallery/albums.html",
        {"analysed": overview.analysed, "cards": overview.cards},
    )


def attributes_beyond_name(attributes: Iterable[str], name: str) -> list[str]:
    """The album's style attributes that its name does not already say (all of them under a
    photographer's own title; none under an automatic name made of them)."""
    said = name.lower()
    return [attribute for attribute in attributes if attribute and attribute.lower() not in said]


def _album_cover(page) -> Picture | None:
    """The page's first photo (on page 1 the one nearest the album's centre of style), whose
    renditions the grid has loaded already: no query of its own."""
    first = next(iter(page.object_list), None)
    return picture(first.photo, ("medium", "display")) if first is not None else None


@require_safe
def album_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One album: its photos nearest the centre of its style first, paginated like the gallery."""
    cluster, page = selectors.album_page(pk, request.GET.get("page"))
    album = cluster.album
    return render(
        request,
        "gallery/album.html",
        {
            **_grid_context(page, [membership.photo for membership in page.object_list]),
            "album": album,
            "name_parts": name_parts(album.name),
            "attributes": attributes_beyond_name(cluster.attributes or [], album.name),
            "canonical_url": request.build_absolute_uri(album.get_absolute_url()),
            "social_card": social_card(
                request,
                kind="website",
                site_name=settings.STYLEFINDER_SITE_TITLE,
                title=album.name,
                description=f"{album.name}: photographs by {settings.STYLEFINDER_SITE_TITLE} "
                "that share one style.",
                path=album.get_absolute_url(),
                image=_album_cover(page),
            ),
        },
    )


# --- The embeddable widget -----------------------------------------------------------------------

WIDGET_SCRIPT = "widget/stylefinder-widget.js"


@dataclass(frozen=True)
class WidgetOptions:
    """One widget on a page: the photo and its data attributes."""

    photo: Photo
    count: int = WIDGET_DEFAULT_COUNT
    link: str = ""
    title: str = WIDGET_DEFAULT_TITLE

    @property
    def attributes(self) -> list[tuple[str, str]]:
        """The div's data attributes; defaults are left out of the snippet."""
        attrs = [("data-stylefinder-photo", str(self.photo.pk)), ("data-count", str(self.count))]
        if self.link:
            attrs.append(("data-link", self.link))
        if self.title != WIDGET_DEFAULT_TITLE:
            attrs.append(("data-title", self.title))
        return attrs

    def div(self) -> str:
        """The element the widget fills (whatever it contains stays if the gallery is down)."""
        return format_html("<div {}></div>", format_html_join(" ", '{}="{}"', self.attributes))


def widget_snippet(script_url: str, options: WidgetOptions) -> str:
    """The two tags a photographer pastes into their page."""
    script = format_html('<script src="{}" defer></script>', script_url)
    return f"{script}\n{options.div()}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _media_origin(request: HttpRequest) -> str:
    """Where the widget's thumbnails come from (this site, or object storage / a CDN)."""
    try:
        url = default_storage.url("renditions/example.webp")
    except Exception:  # a misconfigured store must not take the documentation down
        logger.exception("No URL for media files")
        return _origin(request.build_absolute_uri("/"))
    return _origin(request.build_absolute_uri(url))


def _api_url(request: HttpRequest, name: str) -> str:
    try:
        return request.build_absolute_uri(reverse(name))
    except NoReverseMatch:
        return ""


@require_safe
def widget_page(request: HttpRequest) -> HttpResponse:
    """How to embed the gallery on another website: the two tags, their options, the settings
    this site needs (CORS origins) and the other site's CSP; a live example; and a snippet
    generator (a GET form rendered on the server: no inline script)."""
    data = None
    if request.GET:
        data = request.GET.copy()
        data.setdefault("count", str(WIDGET_DEFAULT_COUNT))
        if "title" not in request.GET:  # from "Embed this": the default heading
            data["title"] = WIDGET_DEFAULT_TITLE
    site_origin = _origin(request.build_absolute_uri("/"))
    form = WidgetSnippetForm(data, site_origin=site_origin)
    status = 200
    chosen = None
    if form.is_bound:
        if form.is_valid():
            clean = form.cleaned_data
            chosen = WidgetOptions(form.photo, clean["count"], clean["link"], clean["title"])
        else:
            status = 400
    newest = selectors.public_photos().first()
    example = chosen or (WidgetOptions(newest) if newest is not None else None)
    script_url = request.build_absolute_uri(static(WIDGET_SCRIPT))
    context = {
        "form": form,
        "chosen": chosen,
        "example": example,
        "snippet": widget_snippet(script_url, example) if example and not form.errors else "",
        "script_url": script_url,
        "site_origin": site_origin,
        "media_origin": _media_origin(request),
        "api_root": _api_url(request, "api:widget").removesuffix("widget/"),
        "widget_origins": settings.STYLEFINDER_WIDGET_ORIGINS,
        "is_staff": _is_staff(request),
    }
    return render(request, "gallery/widget.html", context, status=status)
