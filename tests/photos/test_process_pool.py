"""`import_photos` in the embedded default processes photos in forked processes
(`photos.process_pool`): run as a photographer runs it, in its own process on a SQLite file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from photos.process_pool import ProcessingPool, pool_unavailable_reason
from tests.helpers.images import image_bytes

REPO = Path(__file__).resolve().parents[2]


def test_an_import_is_processed_in_other_processes_and_ends_with_one_run(tmp_path):
    photos = tmp_path / "shoot"
    photos.mkdir()
    for i in range(8):
        (photos / f"{i}.jpg").write_bytes(image_bytes(seed=70 + i, size=(320, 240)))
    (photos / "fake.jpg").write_text("not an image")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "REDIS_URL", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        MEDIA_ROOT=str(tmp_path / "media"),
        STYLEFINDER_PRIVATE_ROOT=str(tmp_path / "private"),
        STYLEFINDER_EXTRACTORS="style",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=REPO, timeout=120)
    done = subprocess.run(
        [*manage, "import_photos", str(photos), "--jobs", "2"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Imported 8, already present 0, rejected 1." in done.stdout
    assert "Processing: 0 pending, 8 ready, 0 failed." in done.stdout
    workers = re.search(r"Processed in (\d) of 2 processes", done.stdout)
    assert workers and 1 <= int(workers.group(1)) <= 2, done.stdout
    assert "Processing: 100%" in done.stderr  # the second progress bar
    # Every photo has its renditions and features, and the closing re-cluster covered them all.
    counts = subprocess.run(
        [
            *manage, "shell", "--no-imports", "-c",
            "from photos.models import Rendition; from recommender.models import ClusterRun, "
            "FeatureVector; print(Rendition.objects.count(), FeatureVector.objects.count(), "
            "ClusterRun.objects.get(is_active=True).n_photos)",
        ],
        env=env, cwd=REPO, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert counts.stdout.split() == ["24", "8", "8"]


@pytest.mark.django_db
def test_no_pool_where_other_processes_could_not_see_the_photos(settings):
    assert pool_unavailable_reason(1) == "one process asked for"
    # A test's transaction is open: its photos are invisible to other processes.
    assert pool_unavailable_reason(2) is not None
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert pool_unavailable_reason(2) == "the task queue's workers process the photos"


def test_a_pool_is_used_as_a_context_manager():
    with pytest.raises(AssertionError, match="context manager"):
        ProcessingPool(2).submit(1)
