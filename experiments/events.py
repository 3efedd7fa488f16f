"""Writing analytics events (impressions, clicks, time on page): validation in one place."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction

from photos.models import Photo

from . import clock
from .models import Click, Impression, PageTime
from .tokens import read_token

BOT_USER_AGENT = re.compile(
    r"bot|crawl|spider|slurp|bingpreview|facebookexternalhit|curl|wget|python-requests|httpx|"
    r"go-http-client|java/|libwww|scrapy|phantomjs",
    re.IGNORECASE,
)
#: one page view's time is capped here: longer is a tab left open, not attention
MAX_SECONDS = 30 * 60
#: the page's own clock starts after the server issued its page view; this much more is jitter
DWELL_SLACK_SECONDS = 5.0
PAGE_VIEW_SALT = "stylefinder.page_view"
PAGE_VIEW_MAX_AGE = 24 * 3600
VISIT_SECONDS = 30 * 60  # events without a visit id: one visit per visitor and half hour


class EventRejected(ValueError):
    """The event is not valid; the message says why."""


def is_bot(user_agent: str) -> bool:
    return not user_agent or bool(BOT_USER_AGENT.search(user_agent))


def client_hash(address: str) -> str:
    """A keyed hash of the client's address: enough to see many visitor ids behind one address,
    never the address itself (not reversible without the secret key)."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"client:{address}".encode(), hashlib.sha256).hexdigest()[:16]


def page_view_token(visitor_id: str) -> str:
    """A page view id the server issued to this visitor, signed: time on page must carry one.
    `at` (milliseconds) is when: a page view cannot have been watched for longer than it has
    existed."""
    payload = {"pv": uuid.uuid4().hex, "v": visitor_id, "at": int(clock.now() * 1000)}
    return signing.dumps(payload, salt=PAGE_VIEW_SALT)


def seconds_since(issued_ms) -> float | None:
    """Seconds from a token's `at` (milliseconds) to now; None for a token without one."""
    if not isinstance(issued_ms, int | float):
        return None
    return max(0.0, clock.now() - issued_ms / 1000)


def visit_for(visitor_id: str, now: float | None = None) -> str:
    """The visit of an event that names none (no cookie, no visit id): the visitor's current
    half hour, so a client without cookies is not a new visit per event."""
    bucket = int((time.time() if now is None else now) // VISIT_SECONDS)
    return uuid.uuid5(uuid.NAMESPACE_URL, f"stylefinder:{visitor_id}:{bucket}").hex


def _payload(token: str, visitor_id: str) -> dict:
    try:
        payload = read_token(token)
    except signing.SignatureExpired as exc:
        raise EventRejected("The impression token has expired.") from exc
    except signing.BadSignature as exc:
        raise EventRejected("The impression token is not valid.") from exc
    if payload.get("v") != visitor_id:
        raise EventRejected("The impression token belongs to another visitor.")
    return payload


def record_impression(token: str, visitor_id: str, visit_id: str, client: str = "") -> Impression:
    """Store the list a browser reports having shown (idempotent per token)."""
    payload = _payload(token, visitor_id)
    source_photo = payload.get("p")
    if source_photo is not None and not Photo.objects.filter(pk=source_photo).exists():
        source_photo = None
    impression, _ = Impression.objects.get_or_create(
        token=uuid.UUID(payload["t"]),
        defaults={
            "visitor_id": visitor_id,
            "visit_id": visit_id,
            "client": client,
            "experiment_id": payload.get("e"),
            "variant": payload["n"],
            "strategy": payload["s"],
            "source": payload["src"],
            "source_photo_id": source_photo,
            "items": [{"photo": p, "position": pos, "score": s} for p, pos, s in payload["i"]],
        },
    )
    return impression


def record_click(
    token: str, visitor_id: str, visit_id: str, photo: int, position: int, client: str = ""
) -> Click:
    """A followed recommendation: must be one of the token's items (idempotent per position).
    Keeps how long after the list was issued it came (`seconds_to_click`), which the report
    screens for clicks faster than a person."""
    payload = _payload(token, visitor_id)
    seconds_to_click = seconds_since(payload.get("at"))
    if [photo, position] not in [[p, pos] for p, pos, _ in payload["i"]]:
        raise EventRejected("That photo was not shown at that position.")
    impression = record_impression(token, visitor_id, visit_id, client)  # a click implies it
    try:
        with transaction.atomic():
            return Click.objects.create(
                impression=impression,
                visitor_id=visitor_id,
                visit_id=visit_id,
                client=client,
                variant=impression.variant,
                target_id=photo,
                position=position,
                seconds_to_click=seconds_to_click,
            )
    except IntegrityError:
        return Click.objects.get(impression=impression, position=position)


def record_page_time(
    visitor_id: str,
    visit_id: str,
    page_view: str,
    path: str,
    seconds: float,
    assignment,
    client: str = "",
) -> PageTime:
    """Time on one page view (`page_view`: the page's signed `page_view_token`), capped at
    `MAX_SECONDS`; later beacons of the same view replace shorter ones. A claim longer than the
    page view has existed (plus `DWELL_SLACK_SECONDS`) is cut to that and marks the row
    `implausible`: the report screens its visitor."""
    try:
        issued = signing.loads(str(page_view), salt=PAGE_VIEW_SALT, max_age=PAGE_VIEW_MAX_AGE)
        view = uuid.UUID(issued["pv"])
    except signing.SignatureExpired as exc:
        raise EventRejected("The page view has expired.") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise EventRejected("page_view must be the page's own page view token.") from exc
    if issued.get("v") != visitor_id:
        raise EventRejected("The page view belongs to another visitor.")
    seconds = max(float(seconds), 0.0)
    existed = seconds_since(issued.get("at"))
    implausible = existed is not None and seconds > existed + DWELL_SLACK_SECONDS
    if implausible:
        seconds = existed
    seconds = min(seconds, MAX_SECONDS)
    row, created = PageTime.objects.get_or_create(
        page_view=view,
        defaults={
            "visitor_id": visitor_id,
            "visit_id": visit_id,
            "client": client,
            "path": path[:300],
            "seconds": seconds,
            "implausible": implausible,
            "experiment_id": assignment.experiment_id,
            "variant": assignment.variant,
        },
    )
    if not created and row.visitor_id == visitor_id:
        fields = []
        if seconds > row.seconds:
            row.seconds = seconds
            fields.append("seconds")
        if implausible and not row.implausible:
            row.implausible = True
            fields.append("implausible")
        if fields:
            row.save(update_fields=[*fields, "updated_at"])
    return row
