"""Processing of one photo after ingest: renditions, then every registered step.

`photos` knows nothing of what later apps compute from a photo; `recommender` registers its
feature extraction here (DESIGN.md §2: photos never imports recommender).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError, transaction
from django.utils import timezone

from .models import Photo
from .renditions import make_renditions
from .signals import announce_change

logger = logging.getLogger(__name__)

ProcessingStep = Callable[[Photo], None]
_steps: list[ProcessingStep] = []

# Errors worth another try later (database or storage briefly unreachable), not a bad photo.
TRANSIENT_ERRORS = (OperationalError, ConnectionError, TimeoutError)


class TransientProcessingError(RuntimeError):
    """Processing hit a passing fault; the task queue retries it with backoff."""


def register_step(step: ProcessingStep) -> ProcessingStep:
    """Add a step run for every photo after its renditions (registering twice adds it once)."""
    if step not in _steps:
        _steps.append(step)
    return step


def enqueue_processing(photo_id: int) -> bool:
    """Hand a photo to the task queue (in-process in the embedded default).

    Returns False when the queue cannot be reached: the photo stays `pending` (nothing is lost)
    and can be re-queued from the admin or with `manage.py process_pending`.
    """
    from .tasks import process_photo_task

    try:
        process_photo_task.delay(photo_id)
    except Exception:  # broker down: kombu/redis raise several types
        logger.warning(
            "Could not queue photo %s for processing; it stays pending", photo_id, exc_info=True
        )
        return False
    return True


def request_processing(photo_id: int) -> None:
    """Queue a photo for processing once the current transaction commits."""
    transaction.on_commit(lambda: enqueue_processing(photo_id))


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
        with transaction.atomic():
            make_renditions(photo, written)
            for step in _steps:
                step(photo)
    except Exception as exc:
        for name in written:  # the rows were rolled back; their new files go too
            try:
                photo.original.storage.delete(name)
            except Exception:
                logger.warning("Could not remove rendition file %s", name, exc_info=True)
        if raise_transient and isinstance(exc, TRANSIENT_ERRORS):
            logger.warning("Processing photo %s hit a passing fault; will retry: %s", photo_id, exc)
            raise TransientProcessingError(str(exc)) from exc
        logger.exception("Processing photo %s failed", photo_id)
        Photo.objects.filter(pk=photo_id).update(
            status=Photo.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
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
