"""Handing photos to the task queue after commit (photos.queueing), apart from the processing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import photos
from photos import queueing
from photos.models import Photo
from photos.services import ingest_photo
from photos.tasks import process_photo_task
from tests.helpers.images import image_file

pytestmark = pytest.mark.django_db


def _imports(module: str) -> set[str]:
    tree = ast.parse((Path(photos.__file__).parent / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_pipeline_never_imports_its_task_back():
    assert not {".tasks", "photos.tasks", ".queueing", "photos.queueing"} & _imports("pipeline")


def test_processing_is_queued_only_once_the_transaction_commits(
    monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(process_photo_task, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        photo = ingest_photo(image_file("later.jpg"))
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [photo.pk]


def test_a_handler_takes_the_photos_instead_of_the_queue_within_its_block(
    monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    handled: list[int] = []
    monkeypatch.setattr(process_photo_task, "delay", queued.append)
    with (
        django_capture_on_commit_callbacks(execute=True),
        queueing.processing_handled_by(handled.append),
    ):
        photo = ingest_photo(image_file("pooled.jpg"))
    assert (handled, queued) == ([photo.pk], [])
    with django_capture_on_commit_callbacks(execute=True):
        again = ingest_photo(image_file("queued.jpg", seed=3))
    assert (handled, queued) == ([photo.pk], [again.pk])  # outside the block: the queue


def test_an_unreachable_queue_is_noted_on_the_photo_and_cleared_later(
    monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(photo_id):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(process_photo_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        photo = ingest_photo(image_file("kept.jpg"))
    photo.refresh_from_db()
    assert (photo.status, photo.error) == (Photo.Status.PENDING, queueing.NOT_QUEUED)

    monkeypatch.setattr(process_photo_task, "delay", lambda photo_id: None)
    assert queueing.enqueue_processing(photo.pk) is True
    photo.refresh_from_db()
    assert (photo.status, photo.error) == (Photo.Status.PENDING, "")
