"""The version of the code a process runs: a hash of the project's Python files, templates and
static manifest, made once per process. Caches shared by every process (Redis) key whole pages
and answers with it, so that after a deploy no process serves what the previous code rendered."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.apps import apps
from django.conf import settings


@cache
def code_version() -> str:
    base = Path(settings.BASE_DIR).resolve()
    roots = {Path(__file__).resolve().parent}  # config itself is no app
    roots |= {Path(c.path).resolve() for c in apps.get_app_configs()}
    roots = {root for root in roots if base in root.parents}  # the project's own, not Django's
    files = [path for root in roots for kind in ("*.py", "*.html") for path in root.rglob(kind)]
    for folder in settings.TEMPLATES[0]["DIRS"]:
        files += Path(folder).rglob("*.html")
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists():
        files.append(manifest)
    digest = hashlib.sha256()
    for path in sorted(set(files)):
        digest.update(path.as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
