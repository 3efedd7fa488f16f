"""What docker-compose.yml and the Dockerfile run, run here without Docker, in production mode,
against the real PostgreSQL and Redis of the integration tests.

The commands are read from those files (interpolated as Compose would, with .env.example's
values), and the environment is .env.example's with only what must differ on this machine
replaced: hosts, addresses, a real secret key, and local media storage (MinIO has its own tests).
So a change to a command in docker-compose.yml or the Dockerfile is tested here as it is.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings

from photos.models import Photo
from recommender.models import ClusterRun
from tests.helpers.images import image_file
from tests.integration.conftest import REPO, Worker, free_port, wait_for, worker_database_url
from tests.test_deploy_files import (
    dockerfile_collectstatic,
    dockerfile_exec_form,
    healthcheck_command,
    read_env_file,
    service_command,
)

pytestmark = pytest.mark.integration

HOST = "photos.example.test"
SECRET_KEY = secrets.token_urlsafe(50)  # 67 random characters, as .env.example asks
VENV_BIN = str(Path(sys.executable).parent)


def production_env(**overrides: str) -> dict[str, str]:
    """.env.example, made to run on this machine: the integration tests' PostgreSQL and Redis."""
    env = {**os.environ, **read_env_file()}
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # python, celery, …
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": HOST,
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": os.environ["REDIS_URL"],
            "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
            "STORAGE_BACKEND": "local",
            "STYLEFINDER_EXTRACTORS": "style",
            "CELERY_WORKER_CONCURRENCY": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def run(argv: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


# --- migrate ----------------------------------------------------------------------------------


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty PostgreSQL database beside the test database, dropped afterwards."""
    name = f"{django_settings.DATABASES['default']['NAME']}_migrate"[:63]
    admin_url = worker_database_url()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migrate_service_builds_a_fresh_database_and_can_run_again(fresh_database):
    argv = service_command("migrate", read_env_file())
    env = production_env(DATABASE_URL=fresh_database)
    first = run(argv, env)
    assert first.returncode == 0, first.stderr
    assert "Applying photos.0001_initial... OK" in first.stdout
    assert "Applying recommender.0001_initial... OK" in first.stdout
    again = run(argv, env)  # every `docker compose up` runs it
    assert again.returncode == 0, again.stderr
    assert "No migrations to apply." in again.stdout


# --- collectstatic (the image build) ----------------------------------------------------------


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """The Dockerfile's collectstatic step, into a temporary STATIC_ROOT."""
    root = tmp_path_factory.mktemp("staticfiles")
    build_env, argv = dockerfile_collectstatic()
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **build_env,
        "STATIC_ROOT": str(root),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):  # not there at build time
        env.pop(name, None)
    result = run(argv, env)
    assert result.returncode == 0, result.stderr
    assert "static files copied" in result.stdout
    return root


def test_collectstatic_at_build_time_makes_hashed_compressed_files(static_root):
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["gallery/site.css"]
    assert re.fullmatch(r"gallery/site\.[0-9a-f]{12}\.css", hashed)
    assert (static_root / hashed).is_file()
    assert (static_root / f"{hashed}.gz").is_file()  # WhiteNoise serves it to gzip clients
    assert "admin/css/base.css" in manifest


# --- check --deploy ---------------------------------------------------------------------------


def test_check_deploy_passes_with_the_production_settings():
    # All of .env.example (S3 storage included), with a real secret key.
    env = {**os.environ, **read_env_file(), "DJANGO_SECRET_KEY": SECRET_KEY}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    result = run(["python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


# --- web (gunicorn) and worker (celery) -------------------------------------------------------


class Gunicorn:
    """docker-compose.yml's web command as a subprocess on a free port."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.port = int(env["GUNICORN_BIND"].rsplit(":", 1)[1])
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_for(self._listening, timeout=60, what=f"gunicorn on {self.port}\n{self.log()}")

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited ({self.process.returncode}):\n{self.log()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def get(self, path: str, *, https: bool = True, **headers: str):
        """GET as the TLS-terminating proxy would forward it; returns (status, headers, body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Host": HOST, **headers}
            if https:
                headers["X-Forwarded-Proto"] = "https"
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: finish requests, then exit
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        return self.process.returncode


@pytest.fixture
def web(static_root, shared_media, tmp_path) -> Iterator[Gunicorn]:
    port = free_port()
    env = production_env(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        STATIC_ROOT=str(static_root),
        MEDIA_ROOT=str(shared_media),
    )
    server = Gunicorn(service_command("web", read_env_file()), env, tmp_path / "gunicorn.log")
    yield server
    assert server.stop() == 0, server.log()


@pytest.fixture
def compose_worker(shared_media, tmp_path) -> Iterator[Worker]:
    argv = service_command("worker", production_env())  # CELERY_WORKER_CONCURRENCY=1 here
    worker = Worker(
        shared_media,
        tmp_path / "compose-worker.log",
        production_env(MEDIA_ROOT=str(shared_media)),
        command=argv,
    )
    yield worker
    worker.stop()


@pytest.mark.django_db(transaction=True)
def test_web_and_worker_commands_serve_the_site_in_production_mode(web, compose_worker):
    from photos.services import ingest_photo

    photos = [
        ingest_photo(image_file(f"prod-{i}.jpg", size=(320, 220), seed=80 + i)) for i in range(3)
    ]
    # The compose worker processes them, then re-clusters (debounced).
    wait_for(
        lambda: Photo.objects.filter(status=Photo.Status.READY).count() == 3,
        timeout=120,
        what="3 photos processed by the compose worker",
        worker=compose_worker,
    )
    wait_for(
        lambda: ClusterRun.objects.filter(is_active=True, n_photos=3).exists(),
        timeout=60,
        what="a re-cluster over the 3 photos",
        worker=compose_worker,
    )

    # Health: the endpoint, and both HEALTHCHECK commands (Dockerfile and compose) as run there.
    status, headers, body = web.get("/healthz")
    assert (status, json.loads(body)) == (200, {"database": "ok", "cache": "ok"})
    health_env = production_env(GUNICORN_BIND=f"0.0.0.0:{web.port}")
    for argv in (dockerfile_exec_form("HEALTHCHECK"), healthcheck_command("web", health_env)):
        result = run(argv, health_env, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    worker_check = healthcheck_command("worker", health_env)
    result = run(worker_check, {**health_env, "HOSTNAME": socket.gethostname()}, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pong" in result.stdout

    # Production security: plain HTTP is redirected, HTTPS answers with HSTS.
    status, headers, _ = web.get("/", https=False)
    assert status == 301 and headers["Location"] == f"https://{HOST}/"
    status, headers, body = web.get("/")
    assert status == 200
    assert "max-age=31536000" in headers["Strict-Transport-Security"]
    page = body.decode()

    # Static files: the page names the hashed file, and WhiteNoise serves it (compressed too).
    css = re.search(r'href="(/static/gallery/site\.[0-9a-f]{12}\.css)"', page)
    assert css, "the gallery page does not link the hashed stylesheet"
    status, headers, body = web.get(css.group(1))
    assert status == 200 and b"{" in body
    assert "immutable" in headers["Cache-Control"]
    status, headers, _ = web.get(css.group(1), **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    assert web.get("/static/gallery/site.css")[0] == 200  # the plain name too (the widget's)

    # The photo page with its similar photos, and the API.
    photo = photos[0]
    status, _, body = web.get(photo.get_absolute_url())
    assert status == 200
    similar = set(re.findall(r'data-photo="(\d+)"', body.decode()))
    assert similar == {str(p.pk) for p in photos[1:]}
    status, _, body = web.get(f"/api/photos/{photo.pk}/similar/?k=5")
    assert status == 200
    assert {item["id"] for item in json.loads(body)["results"]} == {p.pk for p in photos[1:]}
    status, _, body = web.get(photo.rendition_url("thumb"))
    assert status == 200 and body[:4] == b"RIFF"  # a WebP made by the worker

    assert '"GET /healthz HTTP/1.1" 200' in web.log()  # the access log goes to stdout
