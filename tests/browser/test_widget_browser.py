"""The embeddable widget (static/widget/stylefinder-widget.js) on another website, in Chromium.

The other website is a plain HTTP server on another origin (127.0.0.1 and its own port; the
gallery is the live server on localhost) that sends a strict Content-Security-Policy. Its page
embeds the widget with the two documented tags: the strip must render with working images,
without a CSP violation or a console error, report its impression and a followed photo with the
widget visitor's variant, and stay quiet (keeping the page's own content) when the gallery is
down or answers nonsense.
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from experiments import assignment, visitors
from experiments.models import Click, Experiment, Impression
from photos.models import Photo
from tests.browser.conftest import (
    _new_page,
    eventually,
    ready_photos,
    two_variant_experiment,
)
from tests.helpers.images import image_bytes

pytestmark = pytest.mark.browser

PHOTOS = 7
SCRIPT = "/static/widget/stylefinder-widget.js"
# Collected before any script of the page runs (Playwright's init scripts are not subject to
# the page's CSP).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


class OtherSite:
    """A plain static web server on another origin, as a photographer's own site would be."""

    def __init__(self, root: Path, csp: str = "") -> None:
        self.root = root
        self.csp = csp
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def end_headers(self) -> None:
                if site.csp and self.path.split("?")[0].endswith((".html", "/")):
                    self.send_header("Content-Security-Policy", site.csp)
                self.send_header("Cache-Control", "no-store")
                super().end_headers()

            def log_message(self, *args) -> None:  # quiet test output
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.netloc = urlsplit(self.origin).netloc
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def write(self, name: str, content: str | bytes) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return f"{self.origin}/{name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def strict_csp(gallery: str, connect: str = "") -> str:
    """What the documentation asks of the other site; no 'unsafe-inline' anywhere."""
    return (
        f"default-src 'none'; script-src 'self' {gallery}; img-src {gallery}; "
        f"connect-src {connect or gallery}; style-src 'self'"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gallery(live_server) -> str:
    return live_server.url


@pytest.fixture
def other_site(tmp_path, gallery, settings) -> Iterator[OtherSite]:
    """The photographer's site; the gallery allows it to call the API from the browser."""
    site = OtherSite(tmp_path / "site", strict_csp(gallery))
    settings.STYLEFINDER_WIDGET_ORIGINS = [site.origin]
    settings.CORS_ALLOWED_ORIGINS = [site.origin]
    try:
        yield site
    finally:
        site.close()


def open_page(browser, live_server, *hosts: str):
    context, page = _new_page(browser, live_server, also_allow=hosts, color_scheme="light")
    page.add_init_script(RECORD_VIOLATIONS)
    return context, page


@pytest.fixture
def embed_page(browser, live_server, other_site) -> Iterator:
    """A page allowed to load both the other site and the gallery."""
    context, page = open_page(browser, live_server, other_site.netloc)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def photos(transactional_db) -> list[Photo]:
    return ready_photos(PHOTOS, prefix="widget", size=(600, 400), seed=300, title="Plate")


@pytest.fixture
def experiment(transactional_db) -> Experiment:
    return two_variant_experiment("Widget strip")


def html_page(body: str, *, script: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>A photographer's site</title></head>"
        f"<body><h1>My photographs</h1>{body}{script}</body></html>"
    )


def widget_script(gallery: str, api: str = "") -> str:
    extra = f' data-api="{api}"' if api else ""
    return f'<script src="{gallery}{SCRIPT}"{extra} defer></script>'


def assert_images_loaded(page, selector: str) -> None:
    images = page.locator(selector)
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()  # lazy images load once near the viewport
        image.evaluate(
            "img => new Promise((resolve, reject) => {"
            " const done = () => img.naturalWidth > 0 ? resolve() : reject(img.src);"
            " if (img.complete) done(); else { img.onload = done; img.onerror = done; } })"
        )
        assert image.evaluate("img => img.naturalWidth") > 0
    page.evaluate("window.scrollTo(0, 0)")


def violations(page) -> list[str]:
    return page.evaluate("window.__violations")


def browser_network_errors(page) -> list[str]:
    """Console errors other than the browser's own log of a failed request (which a script can
    neither cause differently nor silence): those would be the widget's."""
    return [m for m in page.problems.console_errors if not m.startswith("Failed to load resource")]


def test_widget_on_another_origin_under_a_strict_csp(
    live_server, gallery, other_site, embed_page, photos, experiment, test_output_dir
):
    from playwright.sync_api import expect

    page = embed_page
    for photo in photos:  # the photographer's own photo pages, for data-link
        other_site.write(
            f"photos/{photo.pk}.html", html_page(f"<p>Photo {photo.pk}</p>", script="")
        )
    body = (
        f'<div id="first" data-stylefinder-photo="{photos[0].pk}" data-count="4" '
        f'data-link="{other_site.origin}/photos/{{id}}.html" data-title="More in this style">'
        '<p class="fallback">Loading similar photos…</p></div>'
        f'<div id="second" data-stylefinder-photo="{photos[1].pk}" data-count="3" '
        'data-title=""></div>'
    )
    url = other_site.write("index.html", html_page(body, script=widget_script(gallery)))
    page.goto(url)

    first = page.locator("#first a[data-photo]")  # locators pierce the open shadow root
    second = page.locator("#second a[data-photo]")
    expect(first).to_have_count(4)
    expect(second).to_have_count(3)
    expect(page.locator("#first h2")).to_have_text("More in this style")
    assert page.locator("#second h2").count() == 0  # data-title="": no heading
    expect(page.locator("#first .fallback")).to_be_hidden()  # replaced by the strip
    assert page.locator("#first").evaluate("el => !!el.shadowRoot")
    assert_images_loaded(page, "#first img, #second img")

    # Links: the photographer's pattern, or the gallery's photo pages; alt text is the title.
    first_ids = [int(a.get_attribute("data-photo")) for a in first.all()]
    assert [a.get_attribute("href") for a in first.all()] == [
        f"{other_site.origin}/photos/{pid}.html" for pid in first_ids
    ]
    assert [a.get_attribute("data-position") for a in first.all()] == ["1", "2", "3", "4"]
    titles = {p.pk: p.title for p in photos}
    assert [a.locator("img").get_attribute("alt") for a in first.all()] == [
        titles[pid] for pid in first_ids
    ]
    second_ids = [int(a.get_attribute("data-photo")) for a in second.all()]
    assert [a.get_attribute("href") for a in second.all()] == [
        f"{gallery}/photos/{pid}/" for pid in second_ids
    ]
    # Images keep their aspect ratio (width/height attributes: no layout shift).
    ratio = page.locator("#first img").first.evaluate("img => img.width / img.height")
    assert ratio == pytest.approx(1.5, abs=0.05)

    # The widget's own visitor, in this site's storage; its sticky variant.
    # The id the gallery issued (signed) in its first answer; both widgets use it.
    visitor = visitors.unsigned(page.evaluate("localStorage.getItem('stylefinder.visitor')"))
    assert visitor
    variant = assignment.assign(visitor).variant

    # Both strips are on screen: two impressions, for the widget visitor, from the widget.
    eventually(page, lambda: Impression.objects.count() == 2, "two Impression rows")
    impressions = {i.source_photo_id: i for i in Impression.objects.all()}
    assert set(impressions) == {photos[0].pk, photos[1].pk}
    for impression in impressions.values():
        assert (impression.source, impression.visitor_id) == ("widget", visitor)
        assert (impression.variant, impression.experiment_id) == (variant, experiment.pk)
        assert visitors.valid_id(impression.visit_id)
    assert [i["photo"] for i in impressions[photos[0].pk].items] == first_ids
    page.screenshot(path=str(test_output_dir / "widget-other-site.png"))

    # On a phone the strip scrolls sideways; the page itself does not.
    page.set_viewport_size({"width": 360, "height": 740})
    strip = page.locator("#first ul")
    assert strip.evaluate("ul => ul.scrollWidth > ul.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})

    assert violations(page) == []
    page.problems.assert_none()

    # Follow the 2nd photo of the first strip: to the photographer's page, and logged.
    target = first_ids[1]
    first.nth(1).click()
    page.wait_for_url(f"{other_site.origin}/photos/{target}.html")
    click = eventually(page, Click.objects.first, "a Click row")
    assert (click.target_id, click.position, click.variant) == (target, 2, variant)
    assert click.visitor_id == visitor
    assert click.impression_id == impressions[photos[0].pk].pk

    # Back on the page: the same visitor and variant (sticky); a photo of the second strip
    # opens its page in the gallery, and that click is logged too.
    page.goto(url)
    expect(second).to_have_count(3)
    assert (
        visitors.unsigned(page.evaluate("localStorage.getItem('stylefinder.visitor')")) == visitor
    )
    # A fresh list: under the `random` variant it differs from the first visit's.
    chosen = int(second.first.get_attribute("data-photo"))
    second.first.click()
    page.wait_for_url(f"{gallery}/photos/{chosen}/")
    latest = eventually(
        page,
        lambda: Click.objects.count() == 2 and Click.objects.order_by("-created_at", "-id").first(),
        "a second Click row",
    )
    assert (latest.target_id, latest.position, latest.variant) == (chosen, 1, variant)
    assert latest.visitor_id == visitor
    page.problems.assert_none()


def test_the_csp_of_the_other_site_is_really_enforced(gallery, other_site, embed_page, photos):
    """The check above would be empty if the header were missing: an inline style is refused."""
    page = embed_page
    url = other_site.write("plain.html", html_page("<p id='p'>Hello</p>", script=""))
    page.goto(url)
    page.evaluate("document.getElementById('p').setAttribute('style', 'color: red')")
    page.wait_for_timeout(200)
    assert any(v.startswith("style-src") for v in violations(page))


def test_gallery_down_leaves_the_page_as_it_was(browser, live_server, gallery, tmp_path):
    down = f"http://127.0.0.1:{closed_port()}"
    site = OtherSite(tmp_path / "down", strict_csp(gallery, connect=f"{gallery} {down}"))
    context, page = open_page(browser, live_server, site.netloc, urlsplit(down).netloc)
    try:
        body = '<div id="w" data-stylefinder-photo="12"><p class="fallback">My own links</p></div>'
        script = widget_script(gallery, api=f"{down}/api/")
        page.goto(site.write("index.html", html_page(body, script=script)))
        from playwright.sync_api import expect

        expect(page.locator("#w")).to_have_attribute("data-stylefinder-state", "unavailable")
        expect(page.locator("#w .fallback")).to_be_visible()
        assert page.locator("#w").evaluate("el => el.shadowRoot === null")
        page.wait_for_timeout(300)
        assert page.problems.page_errors == []
        assert browser_network_errors(page) == []
        assert violations(page) == []
    finally:
        context.close()
        site.close()


def test_unknown_photo_and_nonsense_answers_stay_quiet(
    browser, live_server, gallery, other_site, photos
):
    from playwright.sync_api import expect

    # The other site answers the API calls itself with HTML instead of JSON.
    other_site.write("api/widget/index.html", "<html>not json</html>")
    other_site.csp = strict_csp(gallery, connect=f"{gallery} 'self'")
    missing = (
        '<div id="missing" data-stylefinder-photo="999999"><p class="fallback">Mine</p></div>'
        '<div id="empty" data-stylefinder-photo=""></div>'
    )
    nonsense = f'<div id="nonsense" data-stylefinder-photo="{photos[0].pk}"></div>'
    pages = {
        "missing.html": html_page(missing, script=widget_script(gallery)),
        "nonsense.html": html_page(
            nonsense, script=widget_script(gallery, api=f"{other_site.origin}/api/")
        ),
    }
    for name, content in pages.items():
        context, page = open_page(browser, live_server, other_site.netloc)
        try:
            page.goto(other_site.write(name, content))
            host = page.locator("[data-stylefinder-photo]").first
            expect(host).to_have_attribute("data-stylefinder-state", "unavailable")
            assert page.locator("a[data-photo]").count() == 0
            assert page.problems.page_errors == []
            assert browser_network_errors(page) == []
            assert violations(page) == []
            if name == "missing.html":
                expect(page.locator("#missing .fallback")).to_be_visible()
                # The 404 itself is the only failed request.
                assert [r.split()[0] for r in page.problems.failed_requests] == ["404"]
            else:
                assert page.problems.failed_requests == []
        finally:
            context.close()


def test_image_urls_own_media_and_the_sites_own_image(
    browser, live_server, gallery, other_site, photos
):
    """An image of the gallery is named (no upload); an image of the photographer's site is
    read in the browser and uploaded once per tab: a reload asks with the `ref` instead."""
    from playwright.sync_api import expect

    other_site.csp = strict_csp(gallery, connect=f"{gallery} 'self'")
    other_site.write("img/mine.jpg", image_bytes(size=(300, 200), seed=301))
    own = gallery + photos[2].rendition_url("display")
    body = (
        f'<div id="own" data-stylefinder-photo="{own}" data-count="3"></div>'
        '<div id="mine" data-stylefinder-photo="/img/mine.jpg" data-count="5"></div>'
    )
    url = other_site.write("images.html", html_page(body, script=widget_script(gallery)))
    context, page = open_page(browser, live_server, other_site.netloc)
    posts: list[str] = []
    page.on(
        "request",
        lambda request: request.method == "POST"
        and "/api/widget/" in request.url
        and posts.append(request.url),
    )
    try:
        page.goto(url)
        expect(page.locator("#own a[data-photo]")).to_have_count(3)
        expect(page.locator("#mine a[data-photo]")).to_have_count(5)
        own_ids = [int(a.get_attribute("data-photo")) for a in page.locator("#own a").all()]
        assert photos[2].pk not in own_ids
        mine_ids = [int(a.get_attribute("data-photo")) for a in page.locator("#mine a").all()]
        assert_images_loaded(page, "#mine img")
        assert len(posts) == 1
        eventually(page, lambda: Impression.objects.count() == 2, "two Impression rows")

        page.reload()
        expect(page.locator("#mine a[data-photo]")).to_have_count(5)
        assert [int(a.get_attribute("data-photo")) for a in page.locator("#mine a").all()] == (
            mine_ids
        )
        assert len(posts) == 1, "the reload uploaded the image again"
        # A reload is another showing: a fresh token, another impression.
        eventually(page, lambda: Impression.objects.count() == 4, "four Impression rows")
        assert violations(page) == []
        page.problems.assert_none()
    finally:
        context.close()


def test_the_documentation_page_shows_a_live_example(live_server, page, photos, test_output_dir):
    """On /widget/ the widget runs on the gallery's own pages (same origin, no CORS needed)."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/widget/?photo={photos[3].pk}&count=5&title=")
    links = page.locator(f'.widget-demo [data-stylefinder-photo="{photos[3].pk}"] a[data-photo]')
    expect(links).to_have_count(5)
    assert page.locator(".widget-demo h2").count() == 0  # the chosen empty heading
    snippet = page.locator("#widget-snippet").text_content()
    assert f'<script src="{live_server.url}{SCRIPT}" defer></script>' in snippet
    assert f'data-stylefinder-photo="{photos[3].pk}" data-count="5" data-title=""' in snippet
    links.first.scroll_into_view_if_needed()
    eventually(page, lambda: Impression.objects.filter(source="widget").exists(), "an impression")
    page.screenshot(path=str(test_output_dir / "widget-page.png"), full_page=True)
    page.problems.assert_none()
