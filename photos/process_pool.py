"""Processing many photos on every core in the embedded default (no task queue).

Without a queue each photo is processed in the process that ingested it, one after the other, so
a bulk import used one core. `ProcessingPool` hands the photos to processes forked from the
configured Django process instead (no second start-up; each loads the extractors with its first
photo), while the caller goes on ingesting. With a task queue the workers already do this, and
the pool is not used.

A photo a process could not finish (the process died) stays `pending`; `finish` processes every
such photo in the calling process, so nothing is left behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed

from django.conf import settings
from django.db import connection, connections

from .models import Photo
from .pipeline import process_photo

logger = logging.getLogger(__name__)


def default_jobs() -> int:
    return os.cpu_count() or 1


def pool_unavailable_reason(jobs: int) -> str | None:
    """Why photos cannot be processed in other processes here (None: they can)."""
    if jobs <= 1:
        return "one process asked for"
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return "the task queue's workers process the photos"
    if "fork" not in multiprocessing.get_all_start_methods():
        return "this platform cannot fork"
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return "an in-memory SQLite database is not shared with other processes"
    if connection.in_atomic_block:
        return "other processes cannot see the caller's uncommitted photos"
    return None


def _process(photo_id: int) -> tuple[str, int]:
    photo = process_photo(photo_id)
    connections.close_all()  # SQLite: no read transaction held open between photos
    return (photo.status if photo else "gone"), os.getpid()


class ProcessingPool:
    """`submit(photo_id)` processes the photo in one of `jobs` forked processes; `finish()` waits
    for them all and processes in this process whatever they left pending. Used as a context
    manager."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._futures: dict[Future, int] = {}
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessingPool:
        # Forked processes must not share this process's database connections.
        connections.close_all()
        self._executor = ProcessPoolExecutor(
            self.jobs,
            mp_context=multiprocessing.get_context("fork"),
        )
        # With fork, the first task starts every process: now, while no connection is open.
        self._executor.submit(os.getpid).result()
        return self

    def submit(self, photo_id: int) -> None:
        assert self._executor is not None, "use ProcessingPool as a context manager"
        self._futures[self._executor.submit(_process, photo_id)] = photo_id

    @property
    def submitted(self) -> int:
        return len(self._futures)

    def finish(self, progress: Callable[[str], None] = lambda status: None) -> set[int]:
        """Wait for every photo, calling `progress(status)` as each is done; photos a process
        could not finish are processed here. Returns the ids of the processes that did the work."""
        left: list[int] = []
        workers: set[int] = set()
        for future in as_completed(self._futures):
            try:
                status, pid = future.result()
                workers.add(pid)
                progress(status)
            except Exception:  # a process died (memory, a signal): the photo stays pending
                photo_id = self._futures[future]
                logger.warning(
                    "A processing process failed on photo %s; processing it here instead",
                    photo_id,
                    exc_info=True,
                )
                left.append(photo_id)
        for photo_id in Photo.objects.filter(pk__in=left, status=Photo.Status.PENDING).values_list(
            "pk", flat=True
        ):
            photo = process_photo(photo_id)
            workers.add(os.getpid())
            progress(photo.status if photo else "gone")
        return workers

    def __exit__(self, *exc_info) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=exc_info[0] is not None)
            self._executor = None
