"""Processing of one photo after ingest: renditions, then every registered step.

`photos` knows nothing of what later apps compute from a photo; `recommender` registers its
feature extraction here (DESIGN.md §2: photos never imports recommender).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from .models import Photo
from .renditions import make_renditions
from .signals import announce_change

logger = logging.getLogger(__name__)

ProcessingStep = Callable[[Photo], None]
_steps: list[ProcessingStep] = []
_enqueue: Callable[[int], None] | None = None


def register_step(step: ProcessingStep) -> ProcessingStep:
    """Add a step run for every photo after its renditions (registering twice adds it once)."""
    if step not in _steps:
        _steps.append(step)
    return step


def set_enqueuer(enqueue: Callable[[int], None] | None) -> None:
    """Let a task queue take over processing; `None` restores in-process processing."""
    global _enqueue
    _enqueue = enqueue


def request_processing(photo_id: int) -> None:
    """Process a photo once the current transaction commits (now, outside a transaction)."""
    transaction.on_commit(lambda: (_enqueue or process_photo)(photo_id))


def process_photo(photo_id: int) -> Photo | None:
    """Make renditions and run every step; the photo ends `ready`, or `failed` with the reason.

    Safe to run again for the same photo (re-processing from the admin). A failure is recorded on
    the photo, never raised: the original and the rest of the library stay as they are.
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
        logger.exception("Processing photo %s failed", photo_id)
        for name in written:  # the rows were rolled back; their new files go too
            try:
                photo.original.storage.delete(name)
            except Exception:
                logger.warning("Could not remove rendition file %s", name, exc_info=True)
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
