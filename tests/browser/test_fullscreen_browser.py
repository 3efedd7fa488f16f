"""The photo page's full-screen view in a browser: the button, the picture filling the screen,
← → to the neighbours, Escape back to the button; a swipe and a tap on a touch screen."""

from __future__ import annotations

import pytest

from tests.browser.conftest import _new_page, ready_photos
from tests.helpers.browser import images_loaded, wait_until

pytestmark = pytest.mark.browser

SWIPE_LEFT = """
(dialog) => {
  const [dx, dy] = [-120, 10];
  const touch = (x, y) => new Touch({ identifier: 1, target: dialog, clientX: x, clientY: y });
  const x = innerWidth / 2, y = innerHeight / 2;
  const fire = (type, t) => dialog.dispatchEvent(
    new TouchEvent(type, { changedTouches: [t], bubbles: true })
  );
  fire("touchstart", touch(x, y));
  fire("touchend", touch(x + dx, y + dy));
}
"""

SHOWN_SIZE = """() => {
  const img = document.querySelector("#fullscreen img");
  const r = img.getBoundingClientRect();
  const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  return { width: img.naturalWidth * scale, height: img.naturalHeight * scale };
}"""


def fills_the_screen(page, viewport: dict) -> None:
    assert images_loaded(page.locator("#fullscreen img"))[0] > 0
    shown = page.evaluate(SHOWN_SIZE)
    # object-fit: contain: the picture touches two opposite edges of the screen
    assert (
        abs(shown["width"] - viewport["width"]) <= 2
        or abs(shown["height"] - viewport["height"]) <= 2
    ), shown


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_full_screen_opens_browses_and_closes(
    live_server, transactional_db, browser, width, height, test_output_dir
):
    photos = ready_photos(3, prefix="full", size=(1200, 800), seed=70, title="Full")
    _newest, middle, oldest = reversed(photos)
    viewport = {"width": width, "height": height}
    touch = width < 500
    context, page = _new_page(browser, live_server, has_touch=touch)
    try:
        page.set_viewport_size(viewport)
        page.goto(live_server.url + middle.get_absolute_url())
        page.get_by_role("button", name="Full screen").click()
        dialog = page.locator("#fullscreen")
        assert dialog.evaluate("d => d.open")
        fills_the_screen(page, viewport)
        page.screenshot(path=str(test_output_dir / f"fullscreen-{width}.png"))

        with page.expect_navigation():  # the next (older) photo, in full screen
            if touch:
                dialog.evaluate(SWIPE_LEFT)
            else:
                page.keyboard.press("ArrowRight")
        assert page.url.endswith(oldest.get_absolute_url() + "#fullscreen")
        wait_until(page, "document.getElementById('fullscreen').open")
        fills_the_screen(page, viewport)

        if touch:
            page.touchscreen.tap(width // 2, height // 2)  # a tap closes
        else:
            page.keyboard.press("Escape")
        wait_until(page, "!document.getElementById('fullscreen').open")
        # The dialog's close event, whose handler restores the focus and the address, is a task
        # queued after `open` turns false: wait for it (a focus never restored times out).
        wait_until(
            page,
            "document.activeElement && document.activeElement.hasAttribute('data-fullscreen-open')",
        )
        assert "#fullscreen" not in page.url
        # once closed, the arrows browse the pages again (keyboard-nav.js)
        with page.expect_navigation():
            page.keyboard.press("ArrowLeft")
        assert page.url == live_server.url + middle.get_absolute_url()
        page.problems.assert_none()
    finally:
        context.close()


def test_leaving_the_browsers_full_screen_closes_the_view(live_server, transactional_db, browser):
    """The button puts the browser in full screen (the page: a <dialog> is refused it), not
    only the dialog over the window. There, Escape belongs to the browser: it leaves full screen
    and the page never sees the key. Leaving it must close the view as well, not leave a dialog
    that needs a second Escape."""
    (photo,) = ready_photos(1, prefix="leave", size=(1200, 800), seed=71, title="Leave")
    context, page = _new_page(browser, live_server)
    try:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(live_server.url + photo.get_absolute_url())
        page.get_by_role("button", name="Full screen").click()  # a user gesture: granted
        wait_until(page, "document.fullscreenElement === document.documentElement")
        assert page.locator("#fullscreen").evaluate("d => d.open")

        page.evaluate("document.exitFullscreen()")  # what the browser does on Escape

        wait_until(page, "!document.getElementById('fullscreen').open")
        wait_until(
            page,
            "document.activeElement && document.activeElement.hasAttribute('data-fullscreen-open')",
        )
        page.problems.assert_none()
    finally:
        context.close()
