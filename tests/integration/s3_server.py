"""A real S3 API for the integration tests: moto's server (`moto[server]`) in a subprocess.

- `moto_server` (session): starts `python -m moto.server` on a free port of 127.0.0.1, waits
  until it answers, stops it at the end. Without moto installed the tests are skipped, or fail
  under CI=true (like the other services).
- `s3` (per test): a fresh bucket, and `settings.STORAGES["default"]` switched to django-storages'
  S3Storage with exactly the options `config/settings.py` builds from the same environment
  variables that `S3Bucket.env()` hands to a Celery worker subprocess. The application reaches
  the bucket through a `SwitchableProxy`, so a test can cut S3 off (`s3.outage()`) and bring it
  back with the bucket's content intact (moto keeps everything in memory: stopping the server
  would lose it).
"""

from __future__ import annotations

import contextlib
import os
import runpy
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest

from tests.helpers.environment import unavailable
from tests.integration.conftest import REPO

REGION = "us-east-1"
KEY = SECRET = "testing"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """`python -m moto.server` on 127.0.0.1:<free port>."""

    def __init__(self, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"moto_server did not start:\n{self.log()}")
            time.sleep(0.1)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


class SwitchableProxy:
    """A TCP relay to the S3 server that can be cut (connections refused, open ones reset)."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.up()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def up(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """From now on connections are refused, and open ones are cut."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self._connections.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                with self._lock:
                    self._connections.discard(conn)

    def close(self) -> None:
        self.down()


@dataclass
class S3Bucket:
    """One test's bucket, as the application and the test see it."""

    name: str
    server: MotoServer
    proxy: SwitchableProxy
    location: str = "media"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        """The address the application uses (through the proxy)."""
        return self.proxy.url

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment variables that make `config/settings.py` use this bucket."""
        return {
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "AWS_LOCATION": self.location,
            # An outage must fail fast in tests: one attempt, short timeouts.
            "AWS_S3_CONNECT_TIMEOUT": "2",
            "AWS_S3_READ_TIMEOUT": "10",
            "AWS_S3_MAX_ATTEMPTS": "1",
            **self.extra_env,
            **overrides,
        }

    def storage_settings(self, **overrides: str) -> dict:
        """`STORAGES["default"]` exactly as config/settings.py builds it from `env()`."""
        return self.built_settings(**overrides)["MEDIA_STORAGE"]

    def index_storage_settings(self, **overrides: str) -> dict:
        """`STORAGES["index"]` (the private index files) as config/settings.py builds it."""
        return self.built_settings(**overrides)["INDEX_STORAGE"]

    def built_settings(self, **overrides: str) -> dict:
        with mock.patch.dict(os.environ, self.env(**overrides)):
            return runpy.run_path(str(REPO / "config" / "settings.py"))

    def client(self):
        """A boto3 client talking to moto directly (it works during an outage)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.server.url,
            region_name=REGION,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )

    def object_keys(self) -> set[str]:
        """Every object key in the bucket."""
        paginator = self.client().get_paginator("list_objects_v2")
        return {
            item["Key"]
            for page in paginator.paginate(Bucket=self.name)
            for item in page.get("Contents", [])
        }

    def key(self, name: str) -> str:
        """The object key of a storage name ("originals/x.jpg" → "media/originals/x.jpg")."""
        return f"{self.location}/{name}" if self.location else name

    def index_key(self, name: str) -> str:
        """The object key of an index file ("index/run-1.npz" → "private/index/run-1.npz")."""
        return f"private/{name}"

    def head(self, name: str) -> dict:
        return self.client().head_object(Bucket=self.name, Key=self.key(name))

    def read(self, name: str) -> bytes:
        return self.client().get_object(Bucket=self.name, Key=self.key(name))["Body"].read()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """S3 unreachable for the application (connections refused) inside the block."""
        self.proxy.down()
        try:
            yield
        finally:
            self.proxy.up()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory) -> Iterator[MotoServer]:
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        unavailable(
            f"moto[server] is needed for the S3 tests ({exc}): pip install -r requirements-dev.txt"
        )
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto_server.log")
    yield server
    server.stop()


@pytest.fixture
def s3(settings, media_root, moto_server) -> Iterator[S3Bucket]:
    """A fresh bucket as this test's default storage (after the local `media_root` override)."""
    bucket = S3Bucket(
        name=f"stylefinder-{uuid.uuid4().hex[:12]}",
        server=moto_server,
        proxy=SwitchableProxy(int(moto_server.port)),
    )
    bucket.client().create_bucket(Bucket=bucket.name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": bucket.storage_settings(),
        "index": bucket.index_storage_settings(),
    }
    yield bucket
    bucket.proxy.close()
