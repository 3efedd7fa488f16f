"""The photo page with a small photo (the demo's are 450–750 px): shown at its own size beside its
title on a wide screen, not small and alone above an empty band; stacked on a phone."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ready_photos
from tests.helpers.browser import images_loaded

pytestmark = pytest.mark.browser


def boxes(page) -> tuple[dict, dict, dict]:
    stage = page.locator(".photo-stage img").bounding_box()
    info = page.locator(".photo-info").bounding_box()
    main = page.locator(".photo-page").bounding_box()
    return stage, info, main


def test_a_small_photo_sits_beside_its_details_on_a_wide_screen(
    live_server, transactional_db, page, test_output_dir
):
    small, large = (
        ready_photos(1, prefix="small", size=(512, 384), seed=3, title="Small")[0],
        ready_photos(1, prefix="large", size=(1600, 1067), seed=9, title="Large")[0],
    )

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + small.get_absolute_url())
    assert images_loaded(page.locator(".photo-stage img"))[0] > 0
    stage, info, main = boxes(page)
    page.screenshot(path=str(test_output_dir / "photo-small-1280.png"), full_page=True)
    assert stage["width"] <= 512 + 1  # never enlarged
    assert info["x"] >= stage["x"] + stage["width"]  # the details beside the photo…
    assert abs(info["y"] - stage["y"]) < 40  # …starting at its top
    # no empty band: photo and details together use most of the page's width
    assert info["x"] + info["width"] - stage["x"] > 0.8 * main["width"]
    assert page.locator(".photo-info h1").bounding_box()["width"] > 250  # a title, not a sliver

    page.goto(live_server.url + large.get_absolute_url())
    assert images_loaded(page.locator(".photo-stage img"))[0] > 0
    stage, info, _ = boxes(page)
    page.screenshot(path=str(test_output_dir / "photo-large-1280.png"))
    assert info["y"] >= stage["y"] + stage["height"]  # a large photo keeps the stage to itself
    assert stage["width"] > 900

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + small.get_absolute_url())
    assert images_loaded(page.locator(".photo-stage img"))[0] > 0
    stage, info, main = boxes(page)
    page.screenshot(path=str(test_output_dir / "photo-small-390.png"), full_page=True)
    assert info["y"] >= stage["y"] + stage["height"]  # stacked on a phone
    assert stage["width"] >= main["width"] - 2  # and the photo takes the screen's width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.problems.assert_none()
