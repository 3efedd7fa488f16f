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
