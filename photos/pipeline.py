"""Processing of one photo after ingest: renditions, then every registered step.

Only the processing: handing a photo to the task queue is `photos.queueing`'s job, so the task
module (`photos.tasks`) imports this one and nothing here imports the task back.

`photos` knows nothing of what later apps compute from a photo; `recommender` registers its
feature extraction here (DESIGN.md §2: photos never imports recommender).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError, transaction
from django.utils import timezone

from . import storage as media
from .models import Photo
from .renditions import store_renditions
from .signals import announce_change

logger = logging.getLogger(__name__)

#: A step computes outside any transaction and returns what writes its rows (or None); the
#: writes of every step run together in the photo's one short transaction.
ProcessingStep = Callable[[Photo], Callable[[], object] | None]
_steps: list[ProcessingStep] = []

# Errors worth another try later (database or storage briefly unreachable), not a bad photo.
# Storage faults of any backend (S3 connection errors, 5xx, throttling) are recognised by
# `photos.storage.is_unavailable`.
TRANSIENT_ERRORS = (OperationalError, ConnectionError, TimeoutError)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS) or media.is_unavailable(exc)


def failure_reason(exc: BaseException, photo: Photo) -> str:
    """What the admin shows on a failed photo."""
    if media.is_unavailable(exc):
        return media.failure_message(exc, "Could not read or write the photo's files") + (
            " The original is kept; re-process the photo once the storage is back."
        )
    if isinstance(exc, FileNotFoundError):
        return f"The original file {photo.original.name} is missing from the media storage."
    return f"{type(exc).__name__}: {exc}"


class TransientProcessingError(RuntimeError):
    """Processing hit a passing fault; the task queue retries it with backoff."""


def register_step(step: ProcessingStep) -> ProcessingStep:
    """Add a step run for every photo after its renditions (registering twice adds it once)."""
    if step not in _steps:
        _steps.append(step)
    return step


def process_photo(photo_id: int, *, raise_transient: bool = False) -> Photo | None:
    """Make renditions and run every step; the photo ends `ready`, or `failed` with the reason.

    Safe to run again for the same photo (re-processing from the admin, a redelivered task). A
    failure is recorded on the photo, not raised: the original and the rest of the library stay as
    they are. With `raise_transient`, a passing fault (database, storage) raises
    `TransientProcessingError` instead, so that the task is retried.
    """
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        logger.warning("process_photo: photo %s no longer exists", photo_id)
        return None
    written: list[str] = []
    try:
        # The work first, the rows after: the transaction (on SQLite, the one write lock that
        # other processes wait for) lasts as long as the writes, not the decoding and encoding.
        writes = [store_renditions(photo, written)]
        writes += [step(photo) for step in _steps]
        with transaction.atomic():
            for write in writes:
                if write is not None:
                    write()
    except Exception as exc:
        # The rows were rolled back; their new files go too (best effort: the storage may be
        # what failed).
        media.delete_files(
            photo.original.storage, written, reason=f"processing photo {photo_id} failed"
        )
        if raise_transient and is_transient(exc):
            logger.warning("Processing photo %s hit a passing fault; will retry: %s", photo_id, exc)
            raise TransientProcessingError(str(exc)) from exc
        logger.exception("Processing photo %s failed", photo_id)
        Photo.objects.filter(pk=photo_id).update(
            status=Photo.Status.FAILED,
            error=failure_reason(exc, photo)[:2000],
            updated_at=timezone.now(),
        )
    else:
        Photo.objects.filter(pk=photo_id).update(
            status=Photo.Status.READY,
            error="",
            processed_at=timezone.now(),
            updated_at=timezone.now(),
        )
    announce_change([photo_id])
    photo.refresh_from_db()
    return photo
