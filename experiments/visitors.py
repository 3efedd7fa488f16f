"""Visitor and visit ids: random, first-party, server-issued, and nothing personal.

A visitor is a random id issued and signed by the server (`signed`): the `sf_vid` cookie (one
year) on the gallery, the `visitor` the widget keeps from its first answer on other sites. An id
without this gallery's signature is not a visitor (a client must not choose the variant it
lands in). A visit is a second cookie (`sf_visit`) that lapses after 30 minutes without a page
view. `experiments.middleware.VisitorMiddleware` issues and refreshes both cookies.
"""

from __future__ import annotations

import re
import uuid

from django.core import signing

VISITOR_COOKIE = "sf_vid"
VISIT_COOKIE = "sf_visit"
VISITOR_COOKIE_AGE = 365 * 24 * 3600
VISIT_COOKIE_AGE = 30 * 60
_ID = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    return uuid.uuid4().hex


def valid_id(value: str | None) -> bool:
    return bool(value and _ID.match(value))


VISITOR_SALT = "stylefinder.visitor"
#: a signed visitor id: the id, ":", the signature (URL-safe base64)
SIGNED_ID_PATTERN = r"^[0-9a-f]{32}:[A-Za-z0-9_-]{20,100}$"


def signed(visitor_id: str) -> str:
    """The visitor id with this gallery's signature: what cookies and the widget carry."""
    return signing.Signer(salt=VISITOR_SALT).sign(visitor_id)


def unsigned(value: str | None) -> str | None:
    """The visitor id inside a `signed` value, or None when this gallery did not sign it."""
    try:
        raw = signing.Signer(salt=VISITOR_SALT).unsign(value or "")
    except signing.BadSignature:
        return None
    return raw if valid_id(raw) else None
