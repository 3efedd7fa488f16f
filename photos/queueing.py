"""Handing photos to the task queue once the transaction that saved them commits.

Kept apart from `photos.pipeline` (the processing itself), so that the task module imports the
pipeline and nothing imports the task back (DESIGN.md §8: Wagtail's `signal_handlers.py`,
`transaction.on_commit(lambda: task.delay(id))`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from .models import Photo
from .tasks import process_photo_task

logger = logging.getLogger(__name__)

#: Shown on a pending photo (admin list, upload result) while the task queue was unreachable.
NOT_QUEUED = (
    "Not queued yet: the task queue could not be reached. It will be processed once "
    "`python manage.py process_pending` (or “Re-process selected photos”) queues it again."
)


def enqueue_processing(photo_id: int) -> bool:
    """Hand a photo to the task queue (in-process in the embedded default).

    Returns False when the queue cannot be reached: the photo stays `pending` (nothing is lost)
    and can be re-queued from the admin or with `manage.py process_pending`.
    """
    try:
        process_photo_task.delay(photo_id)
    except Exception:  # broker down: kombu/redis raise several types
        logger.warning(
            "Could not queue photo %s for processing; it stays pending", photo_id, exc_info=True
        )
        _note_not_queued(photo_id, True)
        return False
    _note_not_queued(photo_id, False)
    return True


def _note_not_queued(photo_id: int, not_queued: bool) -> None:
    """Record on a pending photo whether it waits for the queue to come back (or clear that)."""
    before, after = ("", NOT_QUEUED) if not_queued else (NOT_QUEUED, "")
    try:
        Photo.objects.filter(pk=photo_id, status=Photo.Status.PENDING, error=before).update(
            error=after
        )
    except Exception:  # the database may be what is down
        logger.warning("Could not record the queue state of photo %s", photo_id, exc_info=True)


#: While set (`processing_handled_by`), photos go to this callable instead of the task queue.
_handler: ContextVar[Callable[[int], None] | None] = ContextVar("processing_handler", default=None)


@contextmanager
def processing_handled_by(handler: Callable[[int], None]) -> Iterator[None]:
    """Within the block, each photo whose ingest commits is handed to `handler(photo_id)`
    instead of the task queue (the import command's process pool in the embedded default)."""
    token = _handler.set(handler)
    try:
        yield
    finally:
        _handler.reset(token)


def request_processing(photo_id: int) -> None:
    """Queue a photo for processing once the current transaction commits."""
    handler = _handler.get()
    if handler is not None:
        transaction.on_commit(lambda: handler(photo_id))
    else:
        transaction.on_commit(lambda: enqueue_processing(photo_id))
