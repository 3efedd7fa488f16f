"""Writing analytics events (impressions, clicks, time on page): validation in one place."""

from __future__ import annotations

import re
import uuid

from django.core import signing
from django.db import IntegrityError, transaction

from photos.models import Photo

from .models import Click, Impression, PageTime
from .tokens import read_token

BOT_USER_AGENT = re.compile(
    r"bot|crawl|spider|slurp|bingpreview|facebookexternalhit|curl|wget|python-requests|httpx|"
    r"go-http-client|java/|libwww|scrapy|phantomjs",
    re.IGNORECASE,
)
MAX_SECONDS = 4 * 3600


class EventRejected(ValueError):
    """The event is not valid; the message says why."""


def is_bot(user_agent: str) -> bool:
    return not user_agent or bool(BOT_USER_AGENT.search(user_agent))


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


def record_impression(token: str, visitor_id: str, visit_id: str) -> Impression:
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
            "experiment_id": payload.get("e"),
            "variant": payload["n"],
            "strategy": payload["s"],
            "source": payload["src"],
            "source_photo_id": source_photo,
            "items": [{"photo": p, "position": pos, "score": s} for p, pos, s in payload["i"]],
        },
    )
    return impression


def record_click(token: str, visitor_id: str, visit_id: str, photo: int, position: int) -> Click:
    """A followed recommendation: must be one of the token's items (idempotent per position)."""
    payload = _payload(token, visitor_id)
    if [photo, position] not in [[p, pos] for p, pos, _ in payload["i"]]:
        raise EventRejected("That photo was not shown at that position.")
    impression = record_impression(token, visitor_id, visit_id)  # a click implies it was shown
    try:
        with transaction.atomic():
            return Click.objects.create(
                impression=impression,
                visitor_id=visitor_id,
                visit_id=visit_id,
                variant=impression.variant,
                target_id=photo,
                position=position,
            )
    except IntegrityError:
        return Click.objects.get(impression=impression, position=position)


def record_page_time(
    visitor_id: str, visit_id: str, page_view: str, path: str, seconds: float, assignment
) -> PageTime:
    """Time on one page view; later beacons of the same view replace shorter ones."""
    try:
        view = uuid.UUID(str(page_view))
    except ValueError as exc:
        raise EventRejected("page_view must be a UUID.") from exc
    seconds = min(max(float(seconds), 0.0), MAX_SECONDS)
    row, created = PageTime.objects.get_or_create(
        page_view=view,
        defaults={
            "visitor_id": visitor_id,
            "visit_id": visit_id,
            "path": path[:300],
            "seconds": seconds,
            "experiment_id": assignment.experiment_id,
            "variant": assignment.variant,
        },
    )
    if not created and row.visitor_id == visitor_id and seconds > row.seconds:
        row.seconds = seconds
        row.save(update_fields=["seconds", "updated_at"])
    return row
