"""Celery tasks of the recommender: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def recluster_task() -> str:
    """Debounced re-cluster: runs once the burst of changes has been quiet for a while."""
    return services.run_debounced_recluster()
