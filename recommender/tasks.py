"""Celery tasks of the recommender: thin wrappers around services."""

from __future__ import annotations

import importlib

from celery import shared_task
from celery.signals import worker_init

from . import services

#: What a re-cluster fits with. The modules that use them import them on first use (about 0.5 s,
#: `recommender.clustering`); a worker imports them before its pool forks, so that no child pays
#: that on the re-cluster a photographer waits for.
FITTING_MODULES = ("sklearn.cluster", "sklearn.decomposition", "sklearn.metrics")


@worker_init.connect
def import_fitting_modules(**kwargs) -> None:
    for name in FITTING_MODULES:
        importlib.import_module(name)


@shared_task(acks_late=True, ignore_result=True)
def recluster_task() -> str:
    """Debounced re-cluster: runs once the burst of changes has been quiet for a while."""
    return services.run_debounced_recluster()


#: how long an add waits for the index before the task tries again later (a full re-cluster
#: holds it for minutes; another add for well under a second)
ADD_WAIT_SECONDS = 2.0
RETRY_SECONDS = 1.0


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def add_photos_task(self, photo_ids: list[int]) -> str:
    """Processed photos join the active run without a full re-fit (`incremental.add_photos`).
    While a full re-cluster holds the index the task tries again shortly: that run may already
    hold the photos, and the add then finds nothing to do."""
    from . import incremental

    try:
        return incremental.add_photos(photo_ids, wait=ADD_WAIT_SECONDS).message
    except incremental.LockBusy as exc:
        raise self.retry(countdown=RETRY_SECONDS, exc=exc) from exc
