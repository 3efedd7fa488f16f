"""Fixtures for tests that drive headless Chromium through Playwright (`@pytest.mark.browser`).

Chromium is the system one (/usr/bin/chromium): `playwright install` is never needed or run.
Without it the browser tests are skipped, except on CI (CI=true) where that is a failure.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers.environment import unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
# Playwright's own time-outs are in milliseconds; a few seconds, never minutes.
ACTION_TIMEOUT_MS = 5_000
NAVIGATION_TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    """Where screenshots go: $STYLEFINDER_TEST_OUTPUT, or test-output/ in the repository."""
    path = Path(os.environ.get("STYLEFINDER_TEST_OUTPUT", REPO_ROOT / "test-output"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def allow_orm_beside_playwright():
    """Playwright's sync API runs an asyncio event loop in this thread; Django refuses database
    access from a thread with a running loop unless told it is safe (it is: the loop is idle).
    Set only while a browser is open, so the check stays on for every other test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(allow_orm_beside_playwright):
    """One headless Chromium per test module (the event loop stops with it)."""
    if not os.path.exists(CHROMIUM):
        unavailable(f"Chromium not found at {CHROMIUM}: browser tests need the system Chromium.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


class PageProblems:
    """What went wrong in the page: console errors, uncaught exceptions, off-site requests."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.external_requests: list[str] = []
        self.failed_requests: list[str] = []

    def assert_none(self) -> None:
        assert not self.page_errors, self.page_errors
        assert not self.console_errors, self.console_errors
        assert not self.external_requests, self.external_requests
        assert not self.failed_requests, self.failed_requests


def _new_page(browser, live_server, also_allow: Iterable[str] = (), **context_options):
    """A page in a fresh context. Requests may go to the live server and to the hosts
    (`host:port`) in `also_allow` (e.g. another site that embeds the widget); any other request
    is recorded in `page.problems` and refused."""
    problems = PageProblems()
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        device_scale_factor=1,
        service_workers="block",
        **context_options,
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    allowed = {urlsplit(live_server.url).netloc, *also_allow}

    def only_this_site(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc in allowed:
            route.continue_()
        else:
            # The site must never reach out (no CDNs, fonts or trackers): record and refuse.
            problems.external_requests.append(url)
            route.abort()

    context.route("**/*", only_this_site)
    page = context.new_page()

    def on_console(message):
        if message.type == "error":
            problems.console_errors.append(message.text)

    def on_response(response):
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.failed_requests.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.page_errors.append(str(error)))
    page.on("response", on_response)
    page.problems = problems
    return context, page


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh light-mode page; `page.problems` collects errors and off-site requests."""
    context, page = _new_page(browser, live_server, color_scheme="light")
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def dark_page(browser, live_server) -> Iterator:
    """Like `page`, with the operating system asking for a dark colour scheme."""
    context, page = _new_page(browser, live_server, color_scheme="dark")
    try:
        yield page
    finally:
        context.close()


# Requests of the live server and the test's own database polls (`eventually`) take turns on
# the one shared SQLite connection.
DATABASE_TURN = threading.Lock()


@pytest.fixture(autouse=True)
def one_request_at_a_time(live_server) -> Iterator[None]:
    """Serialise the live server's requests while a test runs, and shut the door after it.

    With the in-memory SQLite test database, every request thread of the live server shares the
    test's one connection. Pages post events while the browser loads the next page (a click
    beacon, then the navigation): two requests at once on one SQLite connection can fail
    ("cannot open savepoint - SQL statements in progress", a 500). A real server has a
    connection per thread; here the requests simply take turns.

    Closing the browser fires `pagehide` beacons that may arrive after the test, while the
    database is being flushed: once the test is over, late requests get a 503 without touching
    the database, and teardown waits for any request still in flight."""
    server = live_server.thread.httpd
    if not hasattr(server, "stylefinder_app"):
        server.stylefinder_app = server.get_app()
    app = server.stylefinder_app
    lock = DATABASE_TURN
    state = {"open": True}

    def take_turns(environ, start_response):
        with lock:
            if not state["open"]:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"test over"]
            return app(environ, start_response)

    server.set_app(take_turns)
    try:
        yield
    finally:
        with lock:
            state["open"] = False


# --- Shared by the A/B and widget tests ---------------------------------------------------------

POLL_SECONDS = 5.0


def ready_photos(count: int, *, prefix: str, size: tuple[int, int], seed: int, title: str):
    """`count` public, READY photos (outside a transaction, processing runs at once)."""
    from photos.models import Photo
    from photos.services import ingest_photo
    from photos.signals import announce_settled
    from tests.helpers.images import image_file

    created = []
    for i in range(count):
        photo = ingest_photo(
            image_file(f"{prefix}-{i}.jpg", size=size, seed=seed + i), title=f"{title} {i + 1}"
        )
        photo.refresh_from_db()
        assert photo.status == Photo.Status.READY, photo.error
        created.append(photo)
    announce_settled()  # the writer is done: the index is built now
    return created


def two_variant_experiment(name: str):
    """A running experiment: half the visitors get `style_knn` ("knn"), half `random` ("rnd")."""
    from experiments.models import Experiment, Variant

    experiment = Experiment.objects.create(name=name, is_active=True)
    Variant.objects.create(experiment=experiment, name="knn", strategy="style_knn", weight=1)
    Variant.objects.create(experiment=experiment, name="rnd", strategy="random", weight=1)
    return experiment


def eventually(page, check: Callable[[], object], what: str, timeout: float = POLL_SECONDS):
    """Poll the database (the browser reports asynchronously) until `check()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        with DATABASE_TURN:
            value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        page.wait_for_timeout(100)  # lets Playwright deliver the page's events meanwhile
