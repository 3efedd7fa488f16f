"""Visitor and visit ids: random, first-party, server-issued, and nothing personal.

A visitor is a random cookie id (`sf_vid`, one year); a visit is a second cookie (`sf_visit`)
that lapses after 30 minutes without a page view. `experiments.middleware.VisitorMiddleware`
issues and refreshes both.
"""

from __future__ import annotations

import re
import uuid

VISITOR_COOKIE = "sf_vid"
VISIT_COOKIE = "sf_visit"
VISITOR_COOKIE_AGE = 365 * 24 * 3600
VISIT_COOKIE_AGE = 30 * 60
_ID = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    return uuid.uuid4().hex


def valid_id(value: str | None) -> bool:
    return bool(value and _ID.match(value))
