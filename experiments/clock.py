"""The time A/B events are judged by: when a list or a page view was issued, how soon it was
clicked, how long a page can have been watched (`experiments.tokens`, `experiments.events`).

It is the system's clock. The traffic simulator (`experiments.simulation`), which plays every
visitor in this process, moves it forward around a visitor's events (`advanced`) so that its
visitors click and read at a person's pace without the run waiting for it. Only code in the
process can move it (a context variable, per thread and task); nothing a request sends can.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

_offset: contextvars.ContextVar[float] = contextvars.ContextVar("experiments_clock", default=0.0)


def now() -> float:
    """Seconds since the epoch, as `time.time`, plus any `advanced` in this context."""
    return time.time() + _offset.get()


@contextlib.contextmanager
def advanced(seconds: float) -> Iterator[None]:
    """Within the block, `now` is `seconds` later than the system's clock (nested: summed)."""
    token = _offset.set(_offset.get() + float(seconds))
    try:
        yield
    finally:
        _offset.reset(token)
