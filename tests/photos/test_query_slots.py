"""Query uploads are decoded a few at a time per process (photos.uploads.query_slot): the rest
wait, then get a clear 503, so memory stays bounded under many concurrent uploads."""

from __future__ import annotations

import threading

import pytest

from photos.uploads import QueryBusy, open_query_image, query_slot
from tests.helpers.images import jpeg_bytes, jpeg_file, named, styled


@pytest.fixture
def one_slot(settings):
    settings.STYLEFINDER_QUERY_CONCURRENCY = 1
    settings.STYLEFINDER_QUERY_WAIT_SECONDS = 0
    return settings


def test_a_query_waits_for_a_slot_then_is_refused(one_slot):
    with query_slot(), pytest.raises(QueryBusy, match="busy comparing other photos"):
        open_query_image(named(jpeg_bytes(styled(1, "warm")), "q.jpg"))
    assert open_query_image(named(jpeg_bytes(styled(1, "warm")), "q.jpg")).size  # free again


def test_a_waiting_query_gets_the_slot_when_it_frees_up(settings):
    settings.STYLEFINDER_QUERY_CONCURRENCY = 1
    settings.STYLEFINDER_QUERY_WAIT_SECONDS = 5
    held, release = threading.Event(), threading.Event()

    def hold():
        with query_slot():
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    threading.Timer(0.2, release.set).start()
    assert open_query_image(named(jpeg_bytes(styled(2, "noir")), "q.jpg")).size
    holder.join(5)


def test_the_api_answers_503_with_retry_after(client, db, one_slot):
    with query_slot():
        response = client.post("/api/similar/", {"image": jpeg_file(styled(3, "warm"), "q.jpg")})
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "busy" and "try again in a moment" in body["detail"]
    assert response["Retry-After"] == "5"


def test_the_form_says_so_with_a_503(client, db, one_slot):
    with query_slot():
        response = client.post(
            "/similar/", {"image": named(jpeg_bytes(styled(4, "warm")), "q.jpg")}
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "busy comparing other photos" in response.content.decode()


def test_a_large_png_is_shrunk_before_its_conversions():
    """No draft mode for PNG: an integer reduce right after the decode keeps the copies small,
    and the result looks like a full-resolution downscale."""
    import io

    import numpy as np
    from PIL import Image

    from photos.imaging import open_normalized

    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    big = Image.fromarray(base).resize((4000, 3000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, "PNG")
    small = open_normalized(io.BytesIO(buffer.getvalue()), max_side=512)
    assert small.size == (512, 384)
    reference = big.copy()
    reference.thumbnail((512, 512), Image.Resampling.LANCZOS)
    difference = np.abs(np.asarray(small, float) - np.asarray(reference, float)).mean()
    assert difference < 2.0


def burst(tmp_path) -> dict:
    """`benchmarks/query_memory.py`'s child: 8 concurrent uploads of a 20 MP PNG in a fresh
    process with the default 2 slots; its memory before, at the peak and after, in MB."""
    import importlib.util
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "query_memory.py"
    image = tmp_path / "query.png"
    if not image.exists():
        spec = importlib.util.spec_from_file_location("query_memory", script)
        benchmark = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(benchmark)
        benchmark.make_image(image, 20, "PNG")
    command = [sys.executable, str(script), "--child", str(image), "8", "2"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_burst_of_large_queries_hands_its_memory_back(tmp_path):
    """Issue #13: after 16 concurrent large uploads a worker stayed at its peak. The decodes
    grow the process by well over 100 MB; once the burst is over it is back within 30 MB of
    where it started (6–9 MB here). Without handing the freed memory back it usually keeps
    about 70 MB on a quiet machine, which fails this test; but glibc sometimes returns most of
    it by itself (35 MB and 9 MB kept in two busy CI runs), so the untrimmed run is no
    reliable control and is not asserted on (`benchmarks/query_memory.py --keep-memory`
    shows it)."""
    returned = burst(tmp_path)
    assert returned["peak_mb"] - returned["baseline_mb"] > 100, returned  # it did cost memory
    assert returned["after_mb"] - returned["baseline_mb"] < 30, returned
