"""Layout at a desktop (1280 px) and a phone (390 px) width, measured in Chromium.

- the "Similar style" strip (photo page, and the widget's live example on /widget/) scrolls on a
  phone and shows that it does (a "Scroll for more" hint, a partly visible next photo); on a
  desktop nothing is clipped;
- an album name never starts a line with its " · " separator;
- the admin photo list fits a 1280-px screen, with no header cut off;
- the admin's cluster-run page shows the sweep and the configuration readably;
- admin pages do not ask for a /favicon.ico that does not exist.
Screenshots of each at both widths go to `test_output_dir` (layout-*.png).
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from photos.models import Photo
from recommender import albums
from recommender.models import Album, ClusterRun
from tests.browser.conftest import ready_photos
from tests.helpers.browser import images_loaded, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WIDTHS = [("1280", DESKTOP), ("390", PHONE)]
PASSWORD = "layout-pass-123"
LONG_TITLE = "Harbour wall at low tide, the fishing boats waiting for the evening light"
LONG_ALBUM_NAMES = [
    "Mixed colour · faded blacks · soft daylight",
    "Warm tones · golden hour · deep shadows · low-key",
    "Cool blue · high contrast · grain",
    "Muted pastels · lifted shadows · airy highlights · soft",
]


@pytest.fixture
def library(transactional_db):
    """Ten public photos (the active run and its albums are built on the way), long titles on
    a few, a capture date on each, and a superuser."""
    photos = ready_photos(10, prefix="layout", size=(480, 320), seed=140, title="Layout study")
    for i, photo in enumerate(photos[:4]):
        photo.title = f"{LONG_TITLE} {i + 1}"
        photo.save(update_fields=["title"])
    Photo.objects.update(taken_at=timezone.make_aware(datetime.datetime(2023, 9, 14, 18, 42)))
    user = get_user_model().objects.create_superuser("curator", "c@example.com", PASSWORD)
    yield photos, user
    albums.centroid_cache.clear()


def sized(page, viewport: dict) -> None:
    page.set_viewport_size(viewport)


# --- 1. The strip scrolls visibly on a phone ----------------------------------------------------

STRIP_STATE = """
([list, hint]) => {
  const box = list.getBoundingClientRect();
  const right = Math.min(box.right, document.documentElement.clientWidth);
  const cards = [...list.children].map((card) => card.getBoundingClientRect());
  const hintBox = hint ? hint.getBoundingClientRect() : null;
  return {
    scrollWidth: list.scrollWidth,
    clientWidth: list.clientWidth,
    cards: cards.length,
    // a card cut by the strip's right edge: some of it shows, the rest is past the edge
    peeking: cards.some((r) => r.left < right - 8 && r.right > right + 1),
    hint: hintBox && {
      width: hintBox.width, height: hintBox.height, left: hintBox.left, right: hintBox.right,
      visible: getComputedStyle(hint).visibility === "visible" &&
        getComputedStyle(hint).display !== "none" && Number(getComputedStyle(hint).opacity) > 0.5,
    },
    viewport: document.documentElement.clientWidth,
  };
}
"""


def strip_state(page, list_selector: str, hint_selector: str) -> dict:
    strip = page.locator(list_selector)
    strip.scroll_into_view_if_needed()
    hint = page.locator(hint_selector)
    hint_handle = hint.element_handle() if hint.count() else None
    return page.evaluate(STRIP_STATE, [strip.element_handle(), hint_handle])


def assert_scroll_affordance(state: dict) -> None:
    assert state["scrollWidth"] > state["clientWidth"], state  # it does scroll here
    hint = state["hint"]
    assert hint is not None, state
    assert hint["visible"] and hint["width"] > 0 and hint["height"] > 0, state
    assert hint["left"] >= 0 and hint["right"] <= state["viewport"], state
    assert state["peeking"], state  # the next photo shows in part


def assert_not_clipped(state: dict) -> None:
    assert state["scrollWidth"] <= state["clientWidth"] + 1, state
    assert state["hint"] is None or not state["hint"]["visible"] or not state["hint"]["width"]


def test_photo_strip_shows_it_scrolls_on_a_phone(live_server, library, page, test_output_dir):
    photos, _ = library
    url = live_server.url + photos[0].get_absolute_url()
    strip, hint = "#similar .rec-grid--strip", "#similar .rec-strip-hint"
    for name, viewport in WIDTHS:
        sized(page, viewport)
        page.goto(url)
        assert all(width > 0 for width in images_loaded(page.locator(f"{strip} img")))
        page.locator(strip).evaluate("list => list.scrollTo(0, 0)")
        state = strip_state(page, strip, hint)
        assert state["cards"] > 2, state
        if viewport is PHONE:
            assert_scroll_affordance(state)
        else:
            assert_not_clipped(state)
        page.mouse.move(0, 0)
        page.screenshot(
            path=str(test_output_dir / f"layout-photo-strip-{name}.png"), full_page=True
        )
    page.problems.assert_none()


def test_widget_strip_shows_it_scrolls_on_a_phone(live_server, library, page, test_output_dir):
    photos, _ = library
    url = f"{live_server.url}/widget/?photo={photos[0].pk}&count=6"
    host = f'.widget-demo [data-stylefinder-photo="{photos[0].pk}"]'
    strip, hint = f"{host} [part=list]", f"{host} [part=hint]"
    for name, viewport in WIDTHS:
        sized(page, viewport)
        page.goto(url)
        assert all(width > 0 for width in images_loaded(page.locator(f"{strip} img")))
        page.locator(strip).evaluate("list => list.scrollTo(0, 0)")
        page.wait_for_timeout(100)  # the widget checks its overflow after the images load
        state = strip_state(page, strip, hint)
        assert state["cards"] == 6, state
        if viewport is PHONE:
            assert_scroll_affordance(state)
        elif state["scrollWidth"] > state["clientWidth"] + 1:
            assert_scroll_affordance(state)  # six photos may not fit: then it says so too
        else:
            assert_not_clipped(state)
        page.locator(host).scroll_into_view_if_needed()
        page.screenshot(path=str(test_output_dir / f"layout-widget-strip-{name}.png"))
    page.problems.assert_none()


# --- 2. A separator never starts a line ---------------------------------------------------------

SEPARATORS_STARTING_A_LINE = """
(names) => {
  const bad = [];
  let count = 0;
  for (const name of names) {
    const box = name.getBoundingClientRect();
    const walker = document.createTreeWalker(name, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = node.data.indexOf("·"); i >= 0; i = node.data.indexOf("·", i + 1)) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rects = [...range.getClientRects()].filter((r) => r.width > 0);
        count += 1;
        if (!rects.length || rects[0].left - box.left < 2) {
          bad.push(`${name.textContent.trim()} @ ${Math.round(box.width)}px`);
        }
      }
    }
  }
  return { bad, count };
}
"""


def check_separators(page, selector: str) -> int:
    names = page.locator(selector)
    result = page.evaluate(SEPARATORS_STARTING_A_LINE, names.element_handles())
    assert not result["bad"], result
    return result["count"]


def test_album_names_never_start_a_line_with_a_separator(
    live_server, library, page, test_output_dir
):
    run = ClusterRun.objects.get(is_active=True)
    made = list(Album.objects.filter(clusters__run=run).distinct().order_by("pk"))
    assert made, "the re-cluster made no album"
    for album, name in zip(made, LONG_ALBUM_NAMES * len(made), strict=False):
        album.title = name
        album.save(update_fields=["title"])
    albums.centroid_cache.clear()

    for name, viewport in WIDTHS:
        sized(page, viewport)
        page.goto(live_server.url + "/albums/")
        assert page.locator(".album-card__name").count() == len(made)
        assert check_separators(page, ".album-card__name") == sum(
            album.title.count("·") for album in made
        )
        page.mouse.move(0, 0)
        page.screenshot(
            path=str(test_output_dir / f"layout-album-cards-{name}.png"), full_page=True
        )
        if viewport is PHONE:
            # Every width a card can have on a phone, so that each break point is tried.
            grid = page.locator(".album-grid")
            for width in range(150, 370, 6):
                grid.evaluate("(grid, width) => { grid.style.width = `${width}px`; }", width)
                check_separators(page, ".album-card__name")
            grid.evaluate("grid => { grid.style.width = ''; }")

        page.goto(live_server.url + made[0].get_absolute_url())
        heading = page.locator("h1")
        assert " ".join(heading.inner_text().split()) == made[0].title
        check_separators(page, "h1")
        if viewport is PHONE:
            for width in range(150, 370, 6):
                heading.evaluate("(h, width) => { h.style.width = `${width}px`; }", width)
                check_separators(page, "h1")
            heading.evaluate("h => { h.style.width = ''; }")
        page.screenshot(path=str(test_output_dir / f"layout-album-{name}.png"))
    page.problems.assert_none()


# --- 3. The admin photo list fits ---------------------------------------------------------------

ADMIN_TABLE = """
() => {
  const table = document.querySelector("#result_list");
  const container = table.parentElement;
  const cut = [...table.querySelectorAll("thead th")]
    .filter((th) => th.scrollWidth > th.clientWidth || [...th.querySelectorAll("*")].some(
      (el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== "visible"))
    .map((th) => `${th.textContent.trim()} ${th.scrollWidth}>${th.clientWidth}`);
  const title = table.querySelector("tbody td.field-title_display, tbody th.field-title_display");
  const style = getComputedStyle(title);
  const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.4;
  const link = title.querySelector(".sf-photo-title") || title.querySelector("a") || title;
  const lines = [...link.getClientRects()].length;
  return {
    tableScroll: table.scrollWidth, tableClient: table.clientWidth,
    containerScroll: container.scrollWidth, containerClient: container.clientWidth,
    pageScroll: document.documentElement.scrollWidth,
    viewport: document.documentElement.clientWidth,
    cut, titleLines: lines, titleHeight: link.getBoundingClientRect().height, lineHeight,
    titleWidth: title.getBoundingClientRect().width,
    headers: [...table.querySelectorAll("thead th")].map(
      (th) => `${th.textContent.trim()} ${Math.round(th.getBoundingClientRect().width)}`),
  };
}
"""


def test_admin_photo_list_fits(live_server, library, page, test_output_dir):
    site = live_server.url
    sign_in(page, site, "curator", PASSWORD)
    for name, viewport in WIDTHS:
        sized(page, viewport)
        page.goto(f"{site}/admin/photos/photo/")
        page.wait_for_selector("#result_list")
        page.wait_for_load_state("networkidle")
        page.screenshot(
            path=str(test_output_dir / f"layout-admin-photos-{name}.png"), full_page=True
        )
        state = page.evaluate(ADMIN_TABLE)
        assert not state["cut"], state  # no header text cut off, at either width
        if viewport is DESKTOP:
            assert state["containerScroll"] <= state["containerClient"] + 1, state
            assert state["tableScroll"] <= state["tableClient"] + 1, state
            assert state["pageScroll"] <= state["viewport"] + 1, state
            assert state["titleLines"] <= 3, state
            assert state["titleHeight"] <= 3.5 * state["lineHeight"], state
            assert state["titleWidth"] >= 180, state  # not one word a line
    page.problems.assert_none()


# --- 4. The cluster-run page is readable --------------------------------------------------------


def test_admin_cluster_run_is_readable(live_server, library, page, test_output_dir):
    site = live_server.url
    run = ClusterRun.objects.get(is_active=True)
    sign_in(page, site, "curator", PASSWORD)
    for name, viewport in WIDTHS:
        sized(page, viewport)
        page.goto(f"{site}/admin/recommender/clusterrun/{run.pk}/change/")
        page.wait_for_selector("#content")
        text = page.locator("#content").inner_text()
        assert '{"' not in text and "[{" not in text and "{'" not in text
        assert page.locator("dl.sf-config dt").count() >= 3
        if run.sweep:
            assert page.locator("table.sf-sweep tbody tr").count() == len(run.sweep)
        page.screenshot(path=str(test_output_dir / f"layout-admin-run-{name}.png"), full_page=True)
    page.problems.assert_none()


# --- 5. No /favicon.ico from the admin ----------------------------------------------------------


def test_admin_pages_ask_for_no_favicon_ico(live_server, library, page, test_output_dir):
    site = live_server.url
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    sign_in(page, site, "curator", PASSWORD)
    for name, viewport in WIDTHS:
        sized(page, viewport)
        for path in ("/admin/", "/admin/photos/photo/", "/admin/recommender/clusterrun/"):
            page.goto(site + path)
            page.wait_for_load_state("networkidle")
            assert page.locator("#site-name a").count() == 1  # Django's branding is kept
        page.screenshot(path=str(test_output_dir / f"layout-admin-index-{name}.png"))
    page.wait_for_timeout(300)
    paths = [urlsplit(url).path for url in requested]
    assert "/favicon.ico" not in paths, paths
    assert "/static/gallery/favicon.svg" in paths
    assert page.locator("link[rel=icon]").get_attribute("href").endswith("/gallery/favicon.svg")
    page.problems.assert_none()
