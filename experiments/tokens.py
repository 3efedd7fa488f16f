"""Signed impression tokens.

Lists are not logged when rendered (bots and clients without JavaScript would count). The page
carries a signed token describing the list; the browser posts it back when the list is seen.
"""

from __future__ import annotations

from django.core import signing

from . import clock
from .assignment import Assignment
from .visitors import new_id

TOKEN_SALT = "stylefinder.impression"
TOKEN_MAX_AGE = 24 * 3600


def impression_token(
    request, assignment: Assignment, source: str, source_photo: int | None, items
) -> str:
    """A signed description of a list about to be shown, for the browser to report back.

    `items` are (photo id, position, score) triples. `at` is when the list was issued, in
    milliseconds, which tells a click faster than a person (`experiments.events.record_click`).
    """
    payload = {
        "t": new_id(),
        "at": int(clock.now() * 1000),
        "v": getattr(request, "visitor_id", ""),
        "e": assignment.experiment_id,
        "n": assignment.variant,
        "s": assignment.strategy,
        "src": source,
        "p": source_photo,
        "i": [[int(pid), int(pos), round(float(score), 4)] for pid, pos, score in items],
    }
    return signing.dumps(payload, salt=TOKEN_SALT, compress=True)


def read_token(token: str) -> dict:
    """Verify and decode an impression token (raises signing.BadSignature / SignatureExpired)."""
    return signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
