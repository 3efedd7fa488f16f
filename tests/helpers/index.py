"""Waiting on the style index in tests that run a real worker."""

from __future__ import annotations

from recommender.models import ClusterRun, RecommenderSettings


def index_settled(n_photos: int) -> bool:
    """An active run holding `n_photos` photos (built on them, or some joined it since), and no
    re-cluster pending."""
    run = ClusterRun.objects.filter(is_active=True).first()
    dirty = RecommenderSettings.objects.filter(index_dirty_since__isnull=False).exists()
    return run is not None and run.n_photos + run.added_photos == n_photos and not dirty
