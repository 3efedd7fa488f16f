"""What a process pays before it can work: loading the apps must not import the libraries only a
re-cluster or an A/B report uses (scikit-learn and scipy.stats take about 1 s together), while a
Celery worker imports the fitting ones before its pool forks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

LOAD_APPS = """
import sys
import django
django.setup()
from django.urls import get_resolver
from django.contrib import admin
get_resolver().url_patterns  # every view module
admin.autodiscover()
{after}
print(sorted({{m.split(".")[0] + "." + m.split(".")[1] for m in sys.modules
              if m.startswith(("sklearn.", "scipy.stats"))}}))
"""


def loaded_after(code: str = "") -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_APPS.format(after=code)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_loading_the_apps_imports_neither_scikit_learn_nor_scipy_stats():
    assert loaded_after() == "[]"


def test_a_worker_imports_the_fitting_modules_before_its_pool_forks():
    # Celery's own worker, set up as `celery worker` sets it up (its pool not started).
    imported = loaded_after(
        "from config.celery import app\n"
        "app.Worker(pool_cls='solo', concurrency=1, quiet=True, redirect_stdouts=False)"
    )
    assert "sklearn.cluster" in imported
    assert "sklearn.decomposition" in imported
    assert "sklearn.metrics" in imported
