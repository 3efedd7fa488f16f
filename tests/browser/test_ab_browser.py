"""A/B analytics in a real browser (static/gallery/events.js): the strip's impression is logged
once it is seen, a followed recommendation is logged with its position and the visitor's variant,
and the time a page was visible is recorded when it is hidden or left."""

from __future__ import annotations

import pytest
from django.core import signing

from experiments import assignment, visitors
from experiments.events import PAGE_VIEW_SALT
from experiments.models import Click, Experiment, Impression, PageTime
from photos.models import Photo
from tests.browser.conftest import eventually, ready_photos, two_variant_experiment

pytestmark = pytest.mark.browser

PHOTOS = 6


@pytest.fixture
def photos(transactional_db) -> list[Photo]:
    return ready_photos(PHOTOS, prefix="ab", size=(900, 600), seed=100, title="Study")


@pytest.fixture
def experiment(transactional_db) -> Experiment:
    return two_variant_experiment("Strip")


def record_events(page) -> list[dict]:
    """Every event the page posts to /api/events/ (fetch and sendBeacon alike)."""
    sent: list[dict] = []

    def on_request(request):
        if request.url.endswith("/api/events/") and request.method == "POST":
            data = request.post_data_json  # None for a beacon aborted by the interception
            if data:
                sent.append(data)

    page.on("request", on_request)
    return sent


def in_viewport(locator) -> bool:
    return locator.evaluate(
        "el => { const box = el.getBoundingClientRect();"
        " return box.top < innerHeight && box.bottom > 0; }"
    )


def hide_and_show(page, state: str) -> None:
    """Switch the page's visibility as a tab switch would (headless pages are always visible)."""
    page.evaluate(
        """state => {
            const hidden = state === "hidden";
            Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
            Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def test_impression_click_and_time_on_page(live_server, photos, experiment, page, test_output_dir):
    from playwright.sync_api import expect

    sent = record_events(page)
    source = photos[0]
    page.goto(live_server.url + source.get_absolute_url())
    strip = page.locator("section#similar")
    variant = strip.get_attribute("data-variant")
    visitor_id = visitors.unsigned(
        next(c["value"] for c in page.context.cookies() if c["name"] == visitors.VISITOR_COOKIE)
    )
    assert variant == assignment.assign(visitor_id).variant  # the visitor's sticky variant
    assert strip.get_attribute("data-impression")
    links = strip.locator("a[data-photo]")
    expect(links).to_have_count(PHOTOS - 1)

    # Not seen yet, not logged yet: the strip is below the photo.
    grid = strip.locator(".rec-grid")
    assert not in_viewport(grid)
    page.wait_for_timeout(600)
    assert Impression.objects.count() == 0
    assert not [e for e in sent if e["type"] == "impression"]

    # Scrolled into view: one impression, with the list as shown.
    grid.scroll_into_view_if_needed()
    impression = eventually(page, Impression.objects.first, "an Impression row")
    assert impression.variant == variant
    assert impression.visitor_id == visitor_id
    assert impression.experiment_id == experiment.pk
    assert (impression.source, impression.source_photo_id) == ("photo", source.pk)
    shown = [
        (int(a.get_attribute("data-photo")), int(a.get_attribute("data-position")))
        for a in links.all()
    ]
    assert [(i["photo"], i["position"]) for i in impression.items] == shown
    # Scrolling away and back again does not report it twice.
    page.evaluate("window.scrollTo(0, 0)")
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    assert len([e for e in sent if e["type"] == "impression"]) == 1
    page.screenshot(path=str(test_output_dir / "ab-strip.png"))

    # Follow the 2nd recommendation: the click survives the navigation.
    second = links.nth(1)
    target = Photo.objects.get(pk=int(second.get_attribute("data-photo")))
    page.wait_for_timeout(1100)  # some visible time on the first page
    second.click()
    page.wait_for_url(live_server.url + target.get_absolute_url())
    expect(page.locator("h1")).to_have_text(target.title)
    click = eventually(page, Click.objects.first, "a Click row")
    assert (click.position, click.target_id) == (2, target.pk)
    assert click.variant == variant
    assert click.impression_id == impression.pk
    assert Impression.objects.count() == 1

    # Leaving the first page recorded its visible time: the dwell beacon sent with the click,
    # and the one sent on pagehide (whichever is longer is kept).
    first_view = eventually(
        page,
        lambda: PageTime.objects.filter(path=source.get_absolute_url()).first(),
        "a PageTime row for the first page",
    )
    assert first_view.seconds >= 1.0
    assert first_view.variant == variant
    assert first_view.visitor_id == visitor_id
    first_dwell = [e for e in sent if e["type"] == "dwell"]
    # Every beacon carries the page's own signed page view, which names the stored row.
    views = {signing.loads(e["page_view"], salt=PAGE_VIEW_SALT)["pv"] for e in first_dwell}
    assert first_dwell and views == {first_view.page_view.hex}

    # The second page: hidden after about a second (a tab switch).
    page.wait_for_timeout(1000)
    hide_and_show(page, "hidden")
    second_path = target.get_absolute_url()
    row = eventually(
        page,
        lambda: PageTime.objects.filter(path=second_path).first(),
        "a PageTime row for the second page",
    )
    hidden_at = row.seconds
    assert hidden_at >= 0.9
    assert row.page_view != first_view.page_view  # one page view per page load
    # 1.5 s hidden do not count; shown again for 0.3 s, then left (pagehide).
    page.wait_for_timeout(1500)
    hide_and_show(page, "visible")
    page.wait_for_timeout(300)
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}))")
    eventually(
        page,
        lambda: PageTime.objects.get(path=second_path).seconds > hidden_at,
        "a longer PageTime after the page was shown again",
    )
    row.refresh_from_db()
    assert row.seconds < hidden_at + 1.2, "the 1.5 s while hidden were not counted"
    assert PageTime.objects.filter(path=second_path).count() == 1
    page.problems.assert_none()


def test_the_none_variant_logs_no_impression(live_server, photos, page, settings):
    settings.STYLEFINDER_AB_VARIANT = "none"
    sent = record_events(page)
    page.goto(live_server.url + photos[0].get_absolute_url())
    assert page.locator("section#similar").count() == 0
    assert page.locator("a[data-photo]").count() == 0
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(500)
    # Time on page is still measured: it is what the `none` control is compared on.
    hide_and_show(page, "hidden")
    eventually(page, PageTime.objects.exists, "a PageTime row")
    assert Impression.objects.count() == 0
    assert [e["type"] for e in sent] == ["dwell"]
    assert PageTime.objects.get().variant == "none"
    page.problems.assert_none()
