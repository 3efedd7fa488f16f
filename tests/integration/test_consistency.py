"""Readers never see a half-written run: concurrent reads while runs are written (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from photos.models import Photo
from recommender.models import ClusterRun, Membership, Neighbour
from recommender.services import recluster
from tests.helpers.images import image_file

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_reads_during_reclusters_always_see_a_complete_run(settings):
    from photos.pipeline import process_photo
    from photos.services import ingest_photo

    settings.CELERY_TASK_ALWAYS_EAGER = True  # process in this test, no worker needed
    for i in range(24):
        photo = ingest_photo(image_file(f"c{i}.jpg", size=(160, 120), seed=i))
        process_photo(photo.pk)
    assert Photo.objects.filter(status=Photo.Status.READY).count() == 24
    assert recluster().run is not None

    observed: list[tuple[int, int, int]] = []
    problems: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                run = ClusterRun.objects.filter(is_active=True).first()
                if run is None:
                    problems.append("no active run")
                    continue
                members = Membership.objects.filter(run=run).count()
                neighbours = Neighbour.objects.filter(run=run).count()
                observed.append((run.pk, members, neighbours))
                if members != run.n_photos or neighbours == 0:
                    problems.append(f"run {run.pk}: {members} members, {neighbours} neighbours")
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            assert recluster().run is not None
    finally:
        stop.set()
        thread.join(timeout=30)

    assert not problems, problems[:5]
    assert len({run_id for run_id, _, _ in observed}) >= 2, "the reader never saw a switch"
