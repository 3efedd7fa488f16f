"""The public gallery in a real browser: images load, a photo opens, arrow keys navigate."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from photos.models import Photo
from photos.services import ingest_photo
from tests.helpers.browser import images_loaded

pytestmark = pytest.mark.browser

# (title, size, sky top, sky bottom, ground) — a few distinct "scenes" so the grid looks like one.
SCENES = [
    ("Harbour at dusk", (1200, 800), (38, 52, 96), (233, 140, 88), (24, 30, 44)),
    ("Fern study", (800, 1200), (206, 222, 196), (120, 160, 110), (40, 70, 44)),
    ("Salt flats", (1500, 600), (150, 190, 230), (236, 240, 244), (214, 206, 190)),
    ("Winter birches", (1000, 1000), (214, 220, 228), (245, 246, 248), (180, 186, 196)),
    ("Desert road", (1200, 800), (246, 176, 96), (252, 226, 170), (150, 92, 56)),
    ("Night market", (900, 1200), (12, 14, 36), (92, 40, 90), (30, 20, 24)),
]


def scene_file(index: int) -> tuple[str, io.BytesIO]:
    """A small landscape-like picture: a sky gradient, a sun and a ground with a horizon."""
    title, (width, height), top, bottom, ground = SCENES[index]
    rng = np.random.default_rng(index)
    t = np.linspace(0, 1, height)[:, None, None]
    sky = np.array(top)[None, None, :] * (1 - t) + np.array(bottom)[None, None, :] * t
    pixels = np.broadcast_to(sky, (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width]
    sun = (xx - width * (0.25 + 0.1 * index)) ** 2 + (yy - height * 0.42) ** 2
    pixels[sun < (min(width, height) * 0.07) ** 2] = (250, 240, 215)
    horizon = height * (0.62 + 0.04 * np.sin(xx / width * np.pi * (2 + index)))
    pixels[yy > horizon] = ground
    pixels += rng.normal(0, 4, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=88)
    buffer.seek(0)
    buffer.name = f"{title.lower().replace(' ', '-')}.jpg"
    return title, buffer


@pytest.fixture
def photos(transactional_db) -> list[Photo]:
    """Public, READY photos, oldest first (outside a transaction processing runs at once)."""
    created = []
    for index in range(len(SCENES)):
        title, file = scene_file(index)
        photo = ingest_photo(file, title=title, description=f"{title}, shot on a quiet day.")
        photo.refresh_from_db()
        assert photo.status == Photo.Status.READY, photo.error
        created.append(photo)
    return created


def test_gallery_photo_page_and_keyboard_navigation(live_server, photos, page, test_output_dir):
    from playwright.sync_api import expect

    newest_first = list(reversed(photos))

    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Gallery")
    grid_images = page.locator(".photo-grid img")
    expect(grid_images).to_have_count(len(photos))
    assert all(width > 0 for width in images_loaded(grid_images))
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(test_output_dir / "gallery-index.png"), full_page=True)

    # Open the newest photo from the grid.
    page.locator(".photo-grid a.tile").first.click()
    page.wait_for_url(live_server.url + newest_first[0].get_absolute_url())
    expect(page.locator("h1")).to_have_text(newest_first[0].title)
    stage_image = page.locator(".photo-stage img")
    assert images_loaded(stage_image)[0] > 0
    # The portrait needs ~570 CSS px at this viewport: the 800px rendition is enough.
    assert stage_image.evaluate("img => img.currentSrc").endswith(
        newest_first[0].rendition("medium").file.url
    )
    similar = page.locator("section#similar")
    expect(similar).to_be_visible()
    expect(similar.get_by_role("heading", name="Similar style")).to_be_visible()

    # → goes to the next photo in gallery order (the next older one), ← comes back.
    page.keyboard.press("ArrowRight")
    page.wait_for_url(live_server.url + newest_first[1].get_absolute_url())
    expect(page.locator("h1")).to_have_text(newest_first[1].title)
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(live_server.url + newest_first[0].get_absolute_url())
    page.keyboard.press("ArrowRight")
    page.wait_for_url(live_server.url + newest_first[1].get_absolute_url())
    assert images_loaded(page.locator(".photo-stage img"))[0] > 0

    page.screenshot(path=str(test_output_dir / "gallery-photo.png"), full_page=True)
    assert (test_output_dir / "gallery-photo.png").stat().st_size > 0
    page.problems.assert_none()


def test_dark_colour_scheme(live_server, photos, dark_page, test_output_dir):
    page = dark_page
    page.goto(live_server.url + photos[2].get_absolute_url())
    assert images_loaded(page.locator(".photo-stage img"))[0] > 0
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(part) for part in background[4:-1].split(",")[:3])
    assert max(red, green, blue) < 60, background  # a dark page, not the light one
    page.screenshot(path=str(test_output_dir / "gallery-photo-dark.png"), full_page=True)
    page.problems.assert_none()


def test_keyboard_users_can_skip_to_content(live_server, photos, page):
    from playwright.sync_api import expect

    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    # The first link after the skip target is the first photo of the grid.
    expect(page.locator(".photo-grid a.tile").first).to_be_focused()
    page.problems.assert_none()
