"""Similar photos in a real browser: the photo page's strip and "find photos like yours"."""

from __future__ import annotations

import pytest

from photos.models import Photo
from photos.services import ingest_photo
from photos.signals import announce_settled
from tests.helpers.browser import images_loaded, upload_file
from tests.helpers.images import jpeg_file, landscape

pytestmark = pytest.mark.browser

STYLES = ("noir", "warm")
PER_STYLE = 5


@pytest.fixture
def styled_photos(transactional_db) -> dict[str, list[Photo]]:
    """Public, READY photos in two styles (outside a transaction processing runs at once)."""
    photos: dict[str, list[Photo]] = {style: [] for style in STYLES}
    for i in range(PER_STYLE):
        for style in STYLES:
            file = jpeg_file(landscape(i, style), f"{style}-{i}.jpg", quality=88)
            title = f"{'Night' if style == 'noir' else 'Golden'} study {i + 1}"
            photo = ingest_photo(file, title=title, description=f"{title}, {style} light.")
            photo.refresh_from_db()
            assert photo.status == Photo.Status.READY, photo.error
            photos[style].append(photo)
    announce_settled()  # the writer is done: the index is built now
    return photos


def shown_photo_ids(locator) -> list[int]:
    return [int(link.get_attribute("data-photo")) for link in locator.all()]


def check_similar_strip(page, live_server, photos, screenshot):
    from playwright.sync_api import expect

    photo = photos["noir"][0]
    page.goto(live_server.url + photo.get_absolute_url())
    similar = page.locator("section#similar")
    expect(similar).to_have_attribute("data-variant", "style_knn")
    links = similar.locator("a[data-photo]")
    expect(links).to_have_count(8)
    assert all(width > 0 for width in images_loaded(similar.locator(".rec-grid img")))
    ids = shown_photo_ids(links)
    assert photo.pk not in ids
    assert set(ids[:4]) == {p.pk for p in photos["noir"][1:]}
    reasons = similar.locator(".rec__reasons")
    expect(reasons.first).to_be_visible()
    expect(reasons.first).to_contain_text("Black & white")
    similar.locator(".rec-grid").evaluate("strip => { strip.scrollLeft = 0; }")
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshot), full_page=True)
    return links


def check_find_similar(page, live_server, photos, screenshot):
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Find similar").click()
    page.wait_for_url(live_server.url + "/similar/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find photos like yours")
    expect(page.get_by_text("never added to the gallery")).to_be_visible()

    page.get_by_label("Your photo").set_input_files(upload_file(99, "noir"))
    button = page.get_by_role("button", name="Find similar photos")
    with page.expect_navigation():
        button.click()
    results = page.locator(".finder__results")
    expect(results.get_by_role("heading", name="Photos in a similar style")).to_be_visible()
    links = results.locator("a[data-photo]")
    expect(links).to_have_count(2 * PER_STYLE)
    assert set(shown_photo_ids(links)[:PER_STYLE]) == {p.pk for p in photos["noir"]}
    preview = page.locator(".finder__preview img")
    assert preview.get_attribute("src").startswith("data:image/jpeg;base64,")
    assert images_loaded(preview)[0] > 0
    assert all(width > 0 for width in images_loaded(results.locator(".rec-grid img")))
    expect(results.locator(".rec__score").first).to_contain_text("%")
    expect(page.locator(".finder__preview figcaption")).to_contain_text("my-noir-photo.jpg")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot), full_page=True)


def test_similar_strip_and_find_similar(live_server, styled_photos, page, test_output_dir):
    from playwright.sync_api import expect

    links = check_similar_strip(
        page, live_server, styled_photos, test_output_dir / "similar-strip.png"
    )

    # Clicking a recommendation opens that photo's page.
    first = links.first
    target = int(first.get_attribute("data-photo"))
    first.click()
    opened = Photo.objects.get(pk=target)
    page.wait_for_url(live_server.url + opened.get_absolute_url())
    expect(page.locator("h1")).to_have_text(opened.title)

    check_find_similar(page, live_server, styled_photos, test_output_dir / "find-similar.png")
    assert (test_output_dir / "find-similar.png").stat().st_size > 0
    page.problems.assert_none()


def test_similar_dark_mode_and_small_screen(live_server, styled_photos, dark_page, test_output_dir):
    page = dark_page
    check_similar_strip(
        page, live_server, styled_photos, test_output_dir / "similar-strip-dark.png"
    )
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert max(int(part) for part in background[4:-1].split(",")[:3]) < 60, background
    check_find_similar(page, live_server, styled_photos, test_output_dir / "find-similar-dark.png")

    # On a phone the strip scrolls sideways; the page itself never does.
    page.set_viewport_size({"width": 390, "height": 844})
    check_similar_strip(
        page, live_server, styled_photos, test_output_dir / "similar-strip-phone.png"
    )
    strip = page.locator("section#similar .rec-grid")
    assert strip.evaluate("el => el.scrollWidth > el.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(live_server.url + "/similar/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.mouse.move(0, 0)
    page.screenshot(path=str(test_output_dir / "find-similar-phone.png"), full_page=True)
    page.problems.assert_none()


def test_upload_form_errors_and_busy_button(live_server, page, settings, test_output_dir):
    """With the script: a file over the limit is refused before it is sent; a file that is not an
    image is explained by the server; the button is disabled while a photo uploads."""
    from playwright.sync_api import expect

    settings.STYLEFINDER_MAX_UPLOAD_BYTES = 1_000_000
    page.goto(live_server.url + "/similar/")
    page.screenshot(path=str(test_output_dir / "find-similar-form.png"), full_page=True)
    expect(page.get_by_text("up to 1 MB")).to_be_visible()
    file_input = page.get_by_label("Your photo")
    big = {"name": "big.jpg", "mimeType": "image/jpeg", "buffer": b"\xff" * 1_500_000}
    file_input.set_input_files(big)
    message = file_input.evaluate("input => input.validationMessage")
    assert message == "The file is 1.5 MB; the limit is 1 MB."
    page.get_by_role("button", name="Find similar photos").click()
    expect(page.locator(".finder__results")).to_have_count(0)
    assert page.url == live_server.url + "/similar/"

    # The server explains what is wrong with a file that is not a photo (status 400, expected).
    file_input.set_input_files(
        {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo at all"}
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Find similar photos").click()
    expect(page.locator(".form-errors")).to_contain_text("is not a JPEG, PNG, WebP or TIFF image")
    expect(page.get_by_label("Your photo")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(test_output_dir / "find-similar-error.png"), full_page=True)
    problems = page.problems
    assert problems.failed_requests == [f"400 {live_server.url}/similar/"]
    # Chromium also logs a 400 document as a console error; both are expected here, and only here.
    assert problems.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    problems.failed_requests.clear()
    problems.console_errors.clear()

    # While uploading, the button says so and cannot be pressed twice (what it showed is kept in
    # sessionStorage, which outlives the navigation to the results).
    settings.STYLEFINDER_MAX_UPLOAD_BYTES = 50_000_000
    page.goto(live_server.url + "/similar/")
    page.get_by_label("Your photo").set_input_files(upload_file(2, "warm"))
    page.evaluate(
        """() => {
          const button = document.querySelector("button[data-submit]");
          new MutationObserver(() => {
            sessionStorage.setItem("busy", button.disabled + " " + button.textContent);
          }).observe(button, {attributes: true, childList: true, characterData: true});
        }"""
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Find similar photos").click()
    expect(page.locator(".finder__results")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('busy')") == "true Analysing your photo…"
    expect(page.get_by_role("button", name="Find similar photos")).to_be_enabled()
    problems.assert_none()
