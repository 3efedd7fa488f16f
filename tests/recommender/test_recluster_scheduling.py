"""Debounced re-cluster scheduling and queue failures, without a worker (the logic only)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from photos.models import Photo
from recommender import services
from recommender.models import RecommenderSettings
from recommender.tasks import recluster_task
from tests.helpers.images import image_file


@pytest.fixture
def queued(settings, monkeypatch, db):
    """A task queue that records what would be sent instead of sending it."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls: list[dict] = []
    monkeypatch.setattr(recluster_task, "apply_async", lambda **kw: calls.append(kw))
    cache.clear()
    yield calls
    cache.clear()


def test_a_burst_of_requests_schedules_one_task(queued, settings):
    for _ in range(25):
        services.request_recluster()
    assert len(queued) == 1
    # The first look comes as soon as the burst could be over (see below).
    assert queued[0]["countdown"] == pytest.approx(services.SETTLED_QUIET_SECONDS + 0.1)
    assert RecommenderSettings.load().index_dirty_since is not None


def test_the_task_waits_while_changes_keep_coming(queued, monkeypatch):
    runs: list[int] = []
    monkeypatch.setattr(services, "recluster", lambda **kw: runs.append(1))
    cache.set(services.RECLUSTER_REQUESTED_AT, time.time())
    assert services.run_debounced_recluster() == "waiting for the burst to settle"
    assert runs == []
    assert len(queued) == 1 and 0 < queued[0]["countdown"] <= 11


def test_the_task_runs_once_the_burst_is_quiet(queued, monkeypatch):
    runs: list[int] = []
    monkeypatch.setattr(
        services, "recluster", lambda **kw: runs.append(1) or services.RebuildResult(None, "ok")
    )
    cache.set(services.RECLUSTER_REQUESTED_AT, time.time() - 60)
    services.run_debounced_recluster()
    assert runs == [1]
    assert queued == []


def pending_photo(error: str = "") -> Photo:
    return Photo.objects.create(
        original="originals/p.jpg", original_filename="p.jpg", sha256="0" * 64, error=error
    )


@pytest.fixture
def runs(monkeypatch) -> list[int]:
    done: list[int] = []
    monkeypatch.setattr(
        services, "recluster", lambda **kw: done.append(1) or services.RebuildResult(None, "ok")
    )
    return done


def test_with_nothing_waiting_the_run_follows_a_short_quiet(queued, runs):
    cache.set(services.RECLUSTER_REQUESTED_AT, time.time() - services.SETTLED_QUIET_SECONDS - 0.5)
    services.run_debounced_recluster()
    assert runs == [1] and queued == []


def test_photos_waiting_for_processing_hold_the_run_until_the_delay(queued, runs, settings):
    pending_photo()
    cache.set(services.RECLUSTER_REQUESTED_AT, time.time() - services.SETTLED_QUIET_SECONDS - 0.5)
    assert services.run_debounced_recluster() == "waiting for the burst to settle"
    assert runs == [] and len(queued) == 1
    assert queued[0]["countdown"] <= services.SETTLED_QUIET_SECONDS + 0.1  # looks again soon
    # A photo stuck in the queue delays the run by the whole delay, not for ever.
    cache.set(services.RECLUSTER_REQUESTED_AT, time.time() - settings.STYLEFINDER_RECLUSTER_DELAY)
    services.run_debounced_recluster()
    assert runs == [1]


def test_a_photo_the_queue_never_got_does_not_hold_the_run(queued, runs):
    from photos.queueing import NOT_QUEUED

    pending_photo(error=NOT_QUEUED)
    cache.set(services.RECLUSTER_REQUESTED_AT, time.time() - services.SETTLED_QUIET_SECONDS - 0.5)
    services.run_debounced_recluster()
    assert runs == [1]


def test_a_busy_lock_means_another_run_follows(queued):
    cache.set(services.RECLUSTER_REQUESTED_AT, time.time() - 60)
    cache.add(services.REBUILD_LOCK, "1", timeout=60)
    message = services.run_debounced_recluster()
    assert "Another re-cluster" in message
    assert len(queued) == 1


def test_a_dead_broker_keeps_the_index_stale_and_lets_the_next_change_retry(
    settings, monkeypatch, db
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.clear()

    def broker_down(**kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(recluster_task, "apply_async", broker_down)
    services.request_recluster()  # no exception
    assert RecommenderSettings.load().index_dirty_since is not None
    assert cache.get(services.RECLUSTER_SCHEDULED) is None  # the next request tries again


def test_embedded_mode_reclusters_when_the_writer_is_done_not_on_read(
    db, settings, client, django_capture_on_commit_callbacks
):
    from photos.services import ingest_photo
    from photos.signals import announce_settled
    from recommender.models import ClusterRun

    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        photos = [ingest_photo(image_file(f"e{i}.jpg", seed=i)) for i in range(4)]
    assert not ClusterRun.objects.exists()  # each processed photo only marks the index stale
    assert client.get(photos[0].get_absolute_url()).status_code == 200
    assert not ClusterRun.objects.exists()  # and a reader never re-clusters
    with django_capture_on_commit_callbacks(execute=True):
        announce_settled()
    run = ClusterRun.objects.get(is_active=True)
    assert run.n_photos == 4
    assert RecommenderSettings.load().index_dirty_since is None


def test_the_import_command_finishes_with_the_recluster(transactional_db, settings, tmp_path):
    """Real commits (no test transaction), as the command runs."""
    from recommender.models import ClusterRun

    settings.CELERY_TASK_ALWAYS_EAGER = True
    for i in range(3):
        (tmp_path / f"i{i}.jpg").write_bytes(image_file(seed=i).getvalue())
    call_command("import_photos", str(tmp_path), verbosity=0)
    assert ClusterRun.objects.get(is_active=True).n_photos == 3


def test_a_stale_read_with_a_queue_asks_for_a_recluster_and_serves_the_old_run(queued, monkeypatch):
    RecommenderSettings.load()
    RecommenderSettings.objects.filter(pk=1).update(index_dirty_since=timezone.now())
    services.request_recluster_if_stale()
    assert len(queued) == 1
    cache.delete(services.RECLUSTER_SCHEDULED)  # as if the broker had lost it
    services.request_recluster_if_stale()
    assert len(queued) == 1  # checked at most once per STALE_CHECK_SECONDS by this process
    monkeypatch.setattr(services, "_next_stale_check", 0.0)  # ... and by every other one
    services.request_recluster_if_stale()
    assert len(queued) == 1
    cache.delete(services.STALE_CHECKED)  # STALE_CHECK_SECONDS later
    monkeypatch.setattr(services, "_next_stale_check", 0.0)
    services.request_recluster_if_stale()
    assert len(queued) == 2


def test_a_fresh_read_with_a_queue_asks_for_nothing(queued):
    RecommenderSettings.objects.update_or_create(pk=1, defaults={"index_dirty_since": None})
    services.request_recluster_if_stale()
    assert queued == []


def test_an_unreachable_queue_keeps_the_upload_pending(
    monkeypatch, db, django_capture_on_commit_callbacks
):
    from photos.services import ingest_photo
    from photos.tasks import process_photo_task

    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(process_photo_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        photo = ingest_photo(image_file("kept.jpg"))
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PENDING
    assert photo.original.storage.exists(photo.original.name)

    monkeypatch.undo()
    call_command("process_pending")
    photo.refresh_from_db()
    assert photo.status == Photo.Status.READY
