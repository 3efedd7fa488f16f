"""Celery tasks of the photo library: thin wrappers that pass ids to services."""

from __future__ import annotations

from celery import shared_task

from .pipeline import TransientProcessingError, process_photo

MAX_RETRIES = 4


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(TransientProcessingError,),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def process_photo_task(self, photo_id: int) -> str:
    """Renditions and features for one photo. Idempotent: safe to deliver twice.

    A passing fault (database or media storage unreachable) is retried with backoff; on the last
    try, or when run in-process (no queue, nothing would retry it), the photo is marked `failed`
    with the reason instead, and can be re-processed from the admin.
    """
    last_try = self.request.retries >= MAX_RETRIES or bool(self.request.is_eager)
    photo = process_photo(photo_id, raise_transient=not last_try)
    return photo.status if photo else "gone"
