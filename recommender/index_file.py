"""A run's index file, opened memory-mapped (issue #15, item 3).

The index is built once by whoever runs the re-cluster and written to the index storage. Web
processes map it (`StyleSpace.open`): the photo rows live once in the operating system's file
cache, however many gunicorn workers read them, and only the pages a search touches are read.

A local index storage is mapped in place. A remote one (S3) is first copied to a local folder
(`STYLEFINDER_INDEX_CACHE_DIR`, default ``<private root>/mapped``) under a name of its own run, by
whichever process comes first: a temporary file renamed into place, so no process maps half a
file; copies of other runs are removed then (a process that still maps one keeps its pages:
removing a mapped file on Linux only unlinks its name).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.db.models.fields.files import FieldFile

from config.private_storage import private_root

from . import query_index
from .models import ClusterRun
from .space import StyleSpace

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    return Path(settings.STYLEFINDER_INDEX_CACHE_DIR or private_root() / "mapped")


def open_index(run: ClusterRun) -> StyleSpace:
    """`run`'s space, memory-mapped, with its query index when it has one. Raises what the
    storage raises when a file is gone or the storage cannot be reached."""
    space = StyleSpace.open(local_path(run), random_access=bool(run.query_index_file))
    if run.query_index_file:
        space.query_index = query_index.read(local_path(run, run.query_index_file))
    return space


def local_path(run: ClusterRun, field: FieldFile | None = None) -> Path:
    """A local path of one of `run`'s files (default: its index file): the file itself, or
    this machine's copy of it."""
    field = field or run.space_file
    try:
        return Path(field.path)
    except NotImplementedError:  # a remote storage: no path
        pass
    folder = cache_dir()
    name = re.sub(r"[^A-Za-z0-9._-]", "_", field.name)
    target = folder / f"run-{run.pk}-{name}"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=folder, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as out, field.open("rb") as source:
            shutil.copyfileobj(source, out, length=1 << 20)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    _remove_other_copies(folder, run)
    return target


def _remove_other_copies(folder: Path, run: ClusterRun) -> None:
    for old in folder.glob("run-*"):
        if not old.name.startswith(f"run-{run.pk}-"):
            try:
                old.unlink()
            except OSError as exc:  # another process got there first, or cannot now: harmless
                logger.debug("Could not remove the old index copy %s: %s", old, exc)
