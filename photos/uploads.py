"""Query images (a visitor's "find photos like this one" upload): validated like ingest, never
stored, and decoded a few at a time.

A decode is what a query costs in memory: a 40-megapixel PNG is ~120 MB of pixels before it is
scaled down (JPEGs decode straight at the reduced size, draft mode). So each process decodes at
most ``STYLEFINDER_QUERY_CONCURRENCY`` query images at once; another upload waits up to
``STYLEFINDER_QUERY_WAIT_SECONDS`` for a turn, then gets `QueryBusy` (a 503 with a message).
That bounds a worker's peak memory whatever the number of concurrent uploads
(`benchmarks/query_memory.py` measures it). When the last query of a burst is done, the
process hands the freed memory back to the system (`release_free_memory`): glibc keeps freed
blocks of a burst in its arenas otherwise, and the worker would stay at its peak.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from PIL import Image

from photos import imaging

QUERY_SIDE = 512

logger = logging.getLogger(__name__)


class QueryBusy(Exception):
    """Every query slot of this process stayed taken for the whole wait: try again soon."""

    retry_after = 5

    def __init__(self) -> None:
        super().__init__(
            "The gallery is busy comparing other photos right now. Please try again in a moment."
        )


_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None
_in_flight = 0  # queries holding or waiting for a slot, under `_slots_lock`


def _semaphore() -> threading.BoundedSemaphore:
    """The process's query slots, sized by the setting (made again if the setting changes)."""
    global _slots
    size = max(1, int(settings.STYLEFINDER_QUERY_CONCURRENCY))
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


@contextlib.contextmanager
def query_slot() -> Iterator[None]:
    """Hold one of the process's query slots; `QueryBusy` if none frees up in time."""
    global _in_flight
    semaphore = _semaphore()
    with _slots_lock:
        _in_flight += 1
    try:
        if not semaphore.acquire(timeout=float(settings.STYLEFINDER_QUERY_WAIT_SECONDS)):
            raise QueryBusy()
        try:
            yield
        finally:
            semaphore.release()
    finally:
        with _slots_lock:
            _in_flight -= 1
            last = _in_flight == 0
        if last:
            release_free_memory()


def _malloc_trim():
    """glibc's `malloc_trim`, or None (musl, macOS, Windows: nothing to call)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_trim = _malloc_trim()


def release_free_memory() -> bool:
    """Return the memory the C allocator holds free to the system (glibc's `malloc_trim`):
    decoded pixels are large blocks that glibc otherwise keeps for reuse after a burst of
    queries. True when something was returned."""
    if _trim is None:
        return False
    try:
        return bool(_trim(0))
    except OSError:  # never let housekeeping fail a query
        logger.debug("malloc_trim failed", exc_info=True)
        return False


def open_query_image(file: IO[bytes]) -> Image.Image:
    """Validate an upload with the rules of ingest and decode a small normalised copy, in one of
    the process's query slots.

    Raises `photos.imaging.ImageRejected` with a message for the visitor, `QueryBusy` when the
    process is decoding as many queries as it may.
    """
    with query_slot():
        return imaging.open_query_image(
            file,
            max_bytes=settings.STYLEFINDER_MAX_UPLOAD_BYTES,
            max_pixels=min(settings.STYLEFINDER_MAX_PIXELS, settings.STYLEFINDER_MAX_QUERY_PIXELS),
            max_side=QUERY_SIDE,
        )
