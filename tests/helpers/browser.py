"""Playwright helpers shared by the browser tests."""

from __future__ import annotations

from tests.helpers.images import jpeg_bytes, landscape


def images_loaded(locator) -> list[int]:
    """naturalWidth of every image of `locator`, after scrolling each into view (lazy images)."""
    widths = []
    for image in locator.all():
        image.scroll_into_view_if_needed()
        image.page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        widths.append(image.evaluate("img => img.naturalWidth"))
    return widths


def upload_file(seed: int, style: str) -> dict:
    """What `set_input_files` sends: an in-memory JPEG, never a file on disk."""
    return {
        "name": f"my-{style}-photo.jpg",
        "mimeType": "image/jpeg",
        "buffer": jpeg_bytes(landscape(seed, style, (900, 600)), quality=88),
    }


def sign_in(page, site: str, username: str, password: str) -> None:
    """Through the admin's sign-in form, as a person does (django-axes sees a real request)."""
    page.goto(f"{site}/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{site}/admin/")


def wait_until(page, expression: str, timeout: float = 5.0) -> None:
    """Poll a JavaScript expression from the test until it is truthy (AssertionError after
    `timeout` seconds). Unlike `page.wait_for_function`, whose in-page polling evaluates the
    string and is refused under the site's CSP (no 'unsafe-eval'), each poll is a plain
    `page.evaluate`."""
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(50)
