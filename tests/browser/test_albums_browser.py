"""Albums in a real browser: the album cards with their covers, and one album's photos."""

from __future__ import annotations

import pytest

from photos.models import Photo
from photos.services import ingest_photo
from recommender import albums
from recommender.services import recluster
from tests.helpers.albums import build_albums
from tests.helpers.browser import images_loaded, upload_file
from tests.helpers.images import jpeg_file, landscape

pytestmark = pytest.mark.browser

PER_STYLE = 4


@pytest.fixture
def album_library(transactional_db) -> dict:
    """Public photos in two styles, indexed, with a noir and a warm album in the active run."""
    photos: dict = {"noir": [], "warm": []}
    for i in range(PER_STYLE):
        for style in ("noir", "warm"):
            file = jpeg_file(landscape(i, style), f"{style}-{i}.jpg", quality=88)
            title = f"{'Night' if style == 'noir' else 'Golden'} study {i + 1}"
            photo = ingest_photo(file, title=title)
            photo.refresh_from_db()
            assert photo.status == Photo.Status.READY, photo.error
            photos[style].append(photo)
    run = recluster().run
    assert run is not None
    photos["albums"] = build_albums(run, {"noir": photos["noir"], "warm": photos["warm"]})
    photos["albums"]["warm"].title = "Golden hours"  # the photographer's own name for it
    photos["albums"]["warm"].save()
    yield photos
    albums.centroid_cache.clear()


def check_albums(page, live_server, library, screenshot_dir, suffix: str) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Albums").click()
    page.wait_for_url(live_server.url + "/albums/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Albums")
    cards = page.locator(".album-card")
    expect(cards).to_have_count(2)
    assert all(width > 0 for width in images_loaded(page.locator(".album-card img")))
    noir = library["albums"]["noir"]
    card = page.locator(f'a[data-album="{noir.pk}"]')
    expect(card).to_contain_text(noir.name)
    expect(card).to_contain_text(f"{PER_STYLE} photographs")
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshot_dir / f"albums{suffix}.png"), full_page=True)

    card.click()
    page.wait_for_url(live_server.url + noir.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(noir.name)
    tiles = page.locator(".photo-grid a.tile")
    expect(tiles).to_have_count(PER_STYLE)
    assert all(width > 0 for width in images_loaded(page.locator(".photo-grid img")))
    hrefs = {tile.get_attribute("href") for tile in tiles.all()}
    assert hrefs == {photo.get_absolute_url() for photo in library["noir"]}
    page.evaluate("window.scrollTo(0, 0)")
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)  # the hover caption fades out
    page.screenshot(path=str(screenshot_dir / f"album{suffix}.png"), full_page=True)

    # The photo page names its album and links back to it.
    tiles.first.click()
    link = page.locator(".photo-info__album a")
    expect(link).to_have_text(noir.name)
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshot_dir / f"album-photo{suffix}.png"), full_page=True)
    link.click()
    page.wait_for_url(live_server.url + noir.get_absolute_url())


def check_albums_for_an_upload(page, live_server, library, screenshot) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url + "/similar/")
    page.get_by_label("Your photo").set_input_files(upload_file(99, "noir"))
    with page.expect_navigation():
        page.get_by_role("button", name="Find similar photos").click()
    section = page.locator(".finder__albums")
    expect(section.get_by_role("heading", name="Albums in this style")).to_be_visible()
    cards = section.locator("a[data-album]")
    expect(cards).to_have_count(1)  # the warm album is not in this style
    assert int(cards.first.get_attribute("data-album")) == library["albums"]["noir"].pk
    assert all(width > 0 for width in images_loaded(section.locator("img")))
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshot), full_page=True)


def test_albums_and_an_album(live_server, album_library, page, dark_page, test_output_dir):
    check_albums(page, live_server, album_library, test_output_dir, "")
    assert (test_output_dir / "albums.png").stat().st_size > 0
    check_albums_for_an_upload(
        page, live_server, album_library, test_output_dir / "find-similar-albums.png"
    )
    page.problems.assert_none()

    check_albums(dark_page, live_server, album_library, test_output_dir, "-dark")
    background = dark_page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert max(int(part) for part in background[4:-1].split(",")[:3]) < 60, background
    dark_page.problems.assert_none()
