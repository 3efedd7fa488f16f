"""Integration tests: real PostgreSQL, Redis and `celery worker` processes.

Run through `make test-integration`, which points DATABASE_URL at PostgreSQL and
CELERY_BROKER_URL/REDIS_URL at Redis database 15. Under CI=true a missing service fails the run;
elsewhere these tests are skipped when the services are not configured.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.helpers.environment import unavailable

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def real_services() -> None:
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        unavailable(
            "integration tests need DATABASE_URL=postgres://… (run `make test-integration`)"
        )
    if django_settings.CELERY_TASK_ALWAYS_EAGER:
        unavailable(
            "integration tests need CELERY_BROKER_URL=redis://… (run `make test-integration`)"
        )
    import redis

    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {django_settings.CELERY_BROKER_URL} is not reachable: {exc}")
    client.flushdb()  # a clean queue and cache (database 15 belongs to the tests)


@pytest.fixture(scope="module")
def shared_media(tmp_path_factory) -> Path:
    """One media folder for the test process and its worker."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def media_root(settings, shared_media):
    """Overrides the project-wide per-test folder: the worker must see the same files."""
    settings.MEDIA_ROOT = shared_media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(shared_media)},
        },
    }
    return shared_media


@pytest.fixture(autouse=True)
def clean_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def worker_database_url() -> str:
    """The database pytest-django created for this session, as a URL for the worker."""
    db = django_settings.DATABASES["default"]
    name = db["NAME"]
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{name}"


class Worker:
    """A `celery worker` subprocess sharing this test's database, broker and media."""

    def __init__(
        self,
        media: Path,
        log: Path,
        extra_env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ):
        """`command` replaces the default command line (e.g. docker-compose.yml's worker)."""
        env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "MEDIA_ROOT": str(media),
            "STYLEFINDER_EXTRACTORS": "style",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command
            or [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_until(lambda: b"ready." in log.read_bytes(), timeout=60, what="worker start")

    def wait_until(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited ({self.process.returncode}):\n{self.log()}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; worker log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and its pool children)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def start_worker(shared_media, tmp_path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(**extra_env: str) -> Worker:
        worker = Worker(shared_media, tmp_path / f"worker-{len(workers)}.log", extra_env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, worker=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    log = worker.log() if worker else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{log}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A private `redis-server` on a free port, for tests that stop and start Redis.

    The shared Redis on 6379 is never touched: other test runs and engineers use it.
    """

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        import redis

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_for(lambda: _answers(client), timeout=20, what=f"redis-server on {self.port}")

    def stop(self) -> None:
        """Shut down without saving (what a crash or `redis-cli shutdown nosave` does)."""
        import redis

        if self.process is None or self.process.poll() is not None:
            return
        # Shutting down closes the connection under the command.
        with contextlib.suppress(redis.RedisError):
            redis.Redis(port=self.port, socket_connect_timeout=1).shutdown(nosave=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _answers(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    """A started private Redis, stopped after the test."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
