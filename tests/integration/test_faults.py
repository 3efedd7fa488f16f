"""Faults with real processes: a Celery worker killed in the middle of a task, and Redis (broker
and cache) down while a photographer uploads and visitors browse.

- Killed worker: photo processing is `acks_late` with `reject_on_worker_lost`, so the message is
  acknowledged only when the task is done. With the Redis transport an unacknowledged message
  sits in the `unacked` hash; when the whole worker dies (SIGKILL, power loss) nobody gives it
  back, and it is restored by the next worker that looks at that hash after
  CELERY_VISIBILITY_TIMEOUT seconds: kombu's `restore_visible`, which a worker runs when it starts
  consuming and then every ~100 s. When only the pool process dies, the worker's main process
  puts the message back at once (reject_on_worker_lost).
- Redis down: the upload is kept as `pending` and says so; the public site keeps serving pages;
  once Redis is back, `manage.py process_pending` queues the photo again and a worker processes it.

Processing is held in the middle deterministically, without test hooks in the code: a second
database connection locks the renditions table, so the worker's first rendition INSERT waits.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import reverse

from photos.models import Photo
from photos.queueing import NOT_QUEUED
from tests.helpers.images import image_file
from tests.integration.conftest import REPO, wait_for, worker_database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 5  # seconds; production keeps the default hour


@contextlib.contextmanager
def renditions_locked() -> Iterator[psycopg.Connection]:
    """Hold an EXCLUSIVE lock on the renditions table (reads pass, writes wait) until the end."""
    connection = psycopg.connect(worker_database_url(), autocommit=False)
    try:
        connection.execute("LOCK TABLE photos_rendition IN EXCLUSIVE MODE")
        yield connection
    finally:
        connection.rollback()
        connection.close()


def writers_waiting_on_renditions() -> int:
    with psycopg.connect(worker_database_url(), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted "
            "AND relation = 'photos_rendition'::regclass"
        ).fetchone()
    return row[0]


def broker() -> redis.Redis:
    return redis.Redis.from_url(django_settings.CELERY_BROKER_URL)


def pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def photo_status(pk: int) -> str:
    return Photo.objects.get(pk=pk).status


# --- A worker killed in the middle of a task --------------------------------------------------


def test_a_worker_killed_mid_task_is_replaced_and_the_photo_is_processed(start_worker):
    from photos.services import ingest_photo

    photo = ingest_photo(image_file("interrupted.jpg", size=(900, 600), seed=41))
    assert photo_status(photo.pk) == Photo.Status.PENDING  # queued; no worker yet

    with renditions_locked():
        first = start_worker(CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))
        wait_for(
            lambda: writers_waiting_on_renditions() > 0,
            timeout=60,
            what="the worker to be in the middle of processing",
            worker=first,
        )
        assert b"process_photo_task" in first.log_path.read_bytes()
        first.kill()  # SIGKILL: main process and pool; nothing can be acknowledged or returned
    # The worker's half-done transaction died with it; the message waits, unacknowledged.
    assert photo_status(photo.pk) == Photo.Status.PENDING
    assert not photo.renditions.exists()
    delivered_at = [score for _, score in broker().zrange("unacked_index", 0, -1, withscores=True)]
    assert len(delivered_at) == 1 and broker().hlen("unacked") == 1

    # Older than the visibility timeout: the next worker restores it when it starts consuming.
    time.sleep(max(0.0, delivered_at[0] + VISIBILITY_TIMEOUT + 0.5 - time.time()))
    second = start_worker(CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))
    wait_for(
        lambda: photo_status(photo.pk) == Photo.Status.READY,
        timeout=90,
        what="the redelivered photo to be processed",
        worker=second,
    )
    assert b"process_photo_task" in second.log_path.read_bytes()
    assert photo.renditions.count() == 3
    wait_for(lambda: broker().hlen("unacked") == 0, timeout=10, what="the message acknowledged")


def test_a_pool_process_killed_mid_task_is_retried_by_the_same_worker(start_worker):
    from photos.services import ingest_photo

    photo = ingest_photo(image_file("retried.jpg", size=(900, 600), seed=42))
    with renditions_locked():
        worker = start_worker()
        wait_for(
            lambda: writers_waiting_on_renditions() > 0,
            timeout=60,
            what="the pool process to be in the middle of processing",
            worker=worker,
        )
        (child,) = pool_children(worker.process.pid)
        os.kill(child, 9)
        worker.wait_until(
            lambda: b"WorkerLostError" in worker.log_path.read_bytes(),
            timeout=30,
            what="the worker to notice its lost pool process",
        )
    wait_for(
        lambda: photo_status(photo.pk) == Photo.Status.READY,
        timeout=90,
        what="the requeued photo to be processed",
        worker=worker,
    )
    assert photo.renditions.count() == 3
    assert worker.process.poll() is None  # the worker itself lived on


# --- Redis down -------------------------------------------------------------------------------


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Send this process's tasks to another broker (the app reads its settings only once)."""
    from config.celery import app

    def reset_connections() -> None:
        # Only forget them: kombu keeps one pool per broker URL and hands it out again.
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    # Celery prefers the CELERY_BROKER_URL variable to its settings; the write URL is what sending
    # a task uses, and nothing in the environment overrides it here.
    previous = app.conf.get("broker_write_url")
    app.conf.broker_write_url = url
    reset_connections()
    try:
        yield
    finally:
        app.conf.broker_write_url = previous
        reset_connections()


def test_the_cache_degrades_while_redis_is_down(private_redis, monkeypatch):
    from config import cache as degrading

    monkeypatch.setattr(degrading, "RETRY_AFTER", 1.0)
    cache = degrading.DegradingRedisCache(private_redis.url(2), {})
    cache.set("kept", "value")
    assert cache.get("kept") == "value"
    # One redis-py client serves every command (Django would build one per command); it must
    # come back to life with the server below.
    assert cache._cache.get_client() is cache._cache.get_client(write=True)
    # The rate limits' counter: made with its expiry, then incremented, one call each.
    assert [cache.count("hits", 60) for _ in range(3)] == [1, 2, 3]
    assert 0 < cache._cache.get_client().ttl(cache.make_key("hits")) <= 60
    assert cache.get("hits") == 3

    private_redis.stop()
    started = time.monotonic()
    assert cache.get("kept", "default") == "default"
    assert cache.add("lock", "1") is False
    assert cache.set("other", "value") is None
    assert cache.get_many(["kept", "other"]) == {}
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.has_key("kept") is False
    assert cache.delete("kept") is False
    assert cache.count("hits", 60) is None
    assert time.monotonic() - started < 1  # refused at once, then not even tried

    private_redis.start()  # empty: started without its data
    time.sleep(1.1)
    assert cache.add("lock", "1") is True
    assert cache.get("lock") == "1"


def redis_cache(url: str) -> dict:
    return {
        "default": {
            **django_settings.CACHES["default"],
            "LOCATION": url,
        }
    }


def test_redis_down_during_an_upload(admin_client, private_redis, start_worker):
    from photos.pipeline import process_photo
    from photos.services import ingest_photo
    from recommender.services import recluster

    broker_url, cache_url = private_redis.url(0), private_redis.url(1)
    with celery_broker(broker_url), override_settings(CACHES=redis_cache(cache_url)):
        # A small gallery, processed in this process while Redis is up.
        shown = [
            ingest_photo(image_file(f"up-{i}.jpg", size=(240, 160), seed=60 + i)) for i in range(4)
        ]
        for photo in shown:
            process_photo(photo.pk)
        assert recluster().run is not None

        private_redis.stop()

        # Visitors: the site keeps working without its cache and queue.
        for url in (
            reverse("gallery:index"),
            shown[0].get_absolute_url(),
            reverse("gallery:albums"),
            f"/api/photos/{shown[0].pk}/similar/",
            f"/api/photos/{shown[0].pk}/",
        ):
            response = admin_client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        health = admin_client.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {"database": "ok", "cache": "error: ConnectionError"}

        # The photographer edits the library: hiding and showing a photo requests a re-cluster
        # (through the cache, which is down); the change is saved and the page says so.
        changelist_url = reverse("admin:photos_photo_changelist")
        for action, published in (("unpublish_selected", False), ("publish_selected", True)):
            response = admin_client.post(
                changelist_url, {"action": action, "_selected_action": [shown[1].pk]}
            )
            assert response.status_code == 302, (action, response.status_code)
            shown[1].refresh_from_db()
            assert shown[1].published is published

        # The photographer: the upload is kept and the page says it waits for the queue.
        started = time.monotonic()
        response = admin_client.post(
            reverse("admin:photos_photo_upload"),
            {"files": [image_file("while-down.jpg", size=(240, 160), seed=70)], "published": "on"},
        )
        assert time.monotonic() - started < 20
        assert response.status_code == 200
        photo = Photo.objects.get(original_filename="while-down.jpg")
        assert photo.status == Photo.Status.PENDING
        assert photo.error == NOT_QUEUED
        messages = [str(message) for message in response.context["messages"]]
        assert "Imported 1, already in the library 0, rejected 0." in messages
        assert any("could not be queued" in m and "process_pending" in m for m in messages)
        html = response.content.decode()
        assert "Pending" in html and "Not queued yet" in html and "not queued" in html
        # ... and the photo list says the same.
        changelist = admin_client.get(reverse("admin:photos_photo_changelist"))
        assert changelist.status_code == 200
        row = (
            changelist.content.decode()
            .split(f'name="_selected_action" value="{photo.pk}"', 1)[1]
            .split("</tr>")[0]
        )
        assert "Pending" in row and "Not queued yet" in row

        # Redis is back: process_pending queues the photo again and a worker processes it.
        private_redis.start()
        env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": broker_url,
            "REDIS_URL": cache_url,
        }
        worker = start_worker(CELERY_BROKER_URL=broker_url, REDIS_URL=cache_url)
        resumed = subprocess.run(
            [sys.executable, "manage.py", "process_pending"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert "Queued 1 of 1 photos." in resumed.stdout
        wait_for(
            lambda: photo_status(photo.pk) == Photo.Status.READY,
            timeout=90,
            what="the pending photo to be processed",
            worker=worker,
        )
        photo.refresh_from_db()
        assert photo.error == ""
