"""How long a newcomer waits: `make demo` on a fresh clone, to the first page, and each first page.

    python benchmarks/demo_start.py [--pip-cache warm|cold] [--reuse-venv PATH] [--keep]

Clones this repository's HEAD beside it (so `../shared` is beside the clone, as in CI), runs
`make demo` there on a free port and times each step it announces (`==> …` lines), the moment
it says it is serving, and then the first request of every kind of page, each one the first of its
kind in that server process (target: every one under 300 ms). `--pip-cache cold` installs with
`PIP_NO_CACHE_DIR=1`, so every package is downloaded again (a machine that never installed the
project); `warm` uses pip's cache as it is. `--reuse-venv` links an existing virtual environment
instead of installing (the demo alone).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_FIRST_PAGE_MS = 300.0
SERVING = re.compile(r"Serving the demo at (http://\S+?)/? ")
STEP = re.compile(r"^==> (.*)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(
    url: str, data: bytes | None = None, content_type: str | None = None
) -> tuple[int, float, str]:
    """(status, milliseconds, body) of one request; errors are statuses too."""
    request = urllib.request.Request(url, data=data)
    if content_type:
        request.add_header("Content-Type", content_type)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read().decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode("utf-8", "replace"), error.code
    return status, (time.perf_counter() - started) * 1000, body


def multipart(field: str, filename: str, payload: bytes) -> tuple[bytes, str]:
    boundary = "stylefinder-demo-start"
    body = (
        (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{field}"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def query_image() -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    pixels = (rng.random((480, 640, 3)) * 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def first_pages(base: str) -> list[tuple[str, int, float]]:
    """Every kind of page once, in the order a visitor might open them."""
    rows = []
    status, ms, index = fetch(f"{base}/")
    rows.append(("gallery /", status, ms))
    photo = re.search(r'href="(/photos/\d+/)"', index)
    album = None
    for label, path in (
        ("photo page", photo.group(1) if photo else None),
        ("albums", "/albums/"),
        ("find similar (form)", "/similar/"),
        ("widget page", "/widget/"),
        ("API photo list", "/api/photos/"),
        ("admin sign-in", "/admin/login/"),
    ):
        if path is None:
            rows.append((label, 0, float("nan")))
            continue
        status, ms, body = fetch(base + path)
        rows.append((f"{label} {path}", status, ms))
        if path == "/albums/":
            album = re.search(r'href="(/albums/\d+/)"', body)
    if album:
        status, ms, _ = fetch(base + album.group(1))
        rows.append((f"album {album.group(1)}", status, ms))
    if photo:
        pk = re.search(r"\d+", photo.group(1)).group(0)
        status, ms, _ = fetch(f"{base}/api/photos/{pk}/similar/")
        rows.append((f"API similar /api/photos/{pk}/similar/", status, ms))
    body, content_type = multipart("image", "query.jpg", query_image())
    status, ms, _ = fetch(f"{base}/api/similar/", body, content_type)
    rows.append(("query upload POST /api/similar/", status, ms))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip-cache", choices=("warm", "cold"), default="warm")
    parser.add_argument("--reuse-venv", type=Path, help="link this .venv instead of installing")
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    args = parser.parse_args()

    clone = Path(tempfile.mkdtemp(prefix="demo-start-", dir=REPO.parent))
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {**os.environ, "PORT": str(free_port())}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "VIRTUAL_ENV"):
        env.pop(name, None)  # the embedded default, as a newcomer has it
    if args.pip_cache == "cold":
        env["PIP_NO_CACHE_DIR"] = "1"
    if args.reuse_venv:
        (clone / ".venv").symlink_to(args.reuse_venv.resolve())
        (clone / ".stamps").mkdir()
        (clone / ".stamps" / "requirements").touch()

    print(f"make demo in {clone} (pip cache: {args.pip_cache}"
          f"{', venv reused' if args.reuse_venv else ''})", flush=True)  # fmt: skip
    started = time.perf_counter()
    make = subprocess.Popen(
        ["make", "demo"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    steps: list[tuple[str, float]] = []
    served: dict[str, object] = {}
    silences: list[float] = []

    def read() -> None:
        last = time.perf_counter()
        for line in make.stdout:
            now = time.perf_counter()
            silences.append(now - last)
            last = now
            if found := STEP.match(line):
                steps.append((found.group(1), now - started))
            if found := SERVING.search(line + " "):
                served.update(url=found.group(1).rstrip("/"), at=now - started)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while "url" not in served and make.poll() is None and time.perf_counter() - started < 1800:
            time.sleep(0.2)
        if "url" not in served:
            print("make demo never said it was serving", file=sys.stderr)
            return 1
        rows = first_pages(str(served["url"]))
    finally:
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
        if not args.keep:
            subprocess.run(["rm", "-rf", str(clone)], check=False)

    print("\nstep (as make demo announces it)                          starts at")
    for name, at in steps:
        print(f"  {name[:56]:<56} {at:7.1f} s")
    print(f"  {'serving':<56} {served['at']:7.1f} s")
    print(f"  longest silence in make's output: {max(silences, default=0):.1f} s")
    print(f"\nfirst request of each page (target < {TARGET_FIRST_PAGE_MS:.0f} ms)")
    worst = 0.0
    for label, status, ms in rows:
        verdict = "ok" if status == 200 and ms < TARGET_FIRST_PAGE_MS else "MISSED"
        worst = max(worst, ms)
        print(f"  {label:<44} {status:>4} {ms:8.1f} ms  {verdict}")
    print(f"\nfrom make demo to the first page: {served['at'] + rows[0][2] / 1000:.1f} s")
    return 0 if all(s == 200 and ms < TARGET_FIRST_PAGE_MS for _, s, ms in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
