"""Does logging A/B events slow the site? Page and event latencies, with and without events.

    python benchmarks/event_latency.py [--photos 120] [--views 300] [--event-rate 50] [--json]

Builds a throw-away site in a temporary folder (an SQLite file database as in the embedded
default, media on disk, DEBUG off, requests over "https"), ingests `--photos` synthetic photos,
indexes them and runs an experiment (style_knn against random, 1:1). Then, through Django's test
client with a browser's user agent (the code path of a real request: middleware, assignment,
template, signing, throttle):

- GET photo page, no events:        `--views` page views by 50 visitors, nothing posted;
- GET photo page, events after each: the same, each view followed by what events.js posts for it
                                     (impression, a click on one view in four, dwell); only the
                                     page GETs are timed;
- GET photo page, events alongside:  page views while other visitors' events arrive at
                                     `--event-rate` per second from another thread (SQLite allows
                                     one writer at a time; the GIL and 2 cores are shared too);
- POST /api/events/ per type:        impression (first post of a token), impression again (the
                                     idempotent repeat), click, dwell (first report and update).

p50/p95/mean in milliseconds. The server's own time only (no network, no browser): in the browser
the events are sent after the page has loaded (deferred script, sendBeacon), so they can delay a
page only through the database and CPU they share with it, which is what the rows above compare.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
VISITORS = 50
WARMUP = 20


def configure(folder: Path) -> None:
    """Settings for a throw-away site in `folder` (before Django is imported)."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "MEDIA_ROOT": str(folder / "media"),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "benchmark-only-" + uuid.uuid4().hex,
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "STYLEFINDER_EXTRACTORS": "style",
            "STYLEFINDER_AB_VARIANT": "",
            "STYLEFINDER_EVENTS_RATE": "1000000/min",  # measured, never refused
            "STYLEFINDER_RECLUSTER_DELAY": "0",
        }
    )
    for name in ("CELERY_BROKER_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()


def synthetic_jpeg(seed: int, size: tuple[int, int] = (480, 320)) -> io.BytesIO:
    """A gradient with noise, tinted per seed: distinct photos of varied style."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = size
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    base = np.concatenate([x * np.ones_like(y), y * np.ones_like(x), (x + y) / 2], axis=2)
    tint = rng.uniform(0.4, 1.3, 3)
    pixels = base * 255 * tint + rng.normal(0, 12, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    buffer.seek(0)
    buffer.name = f"bench-{seed}.jpg"
    return buffer


def build_site(n_photos: int) -> list[int]:
    from django.core.management import call_command

    from experiments.models import Experiment, Variant
    from photos.models import Photo
    from photos.services import ingest_photo
    from recommender.services import rebuild_index

    call_command("migrate", verbosity=0, interactive=False)
    ids = []
    for seed in range(n_photos):
        photo = ingest_photo(synthetic_jpeg(seed), title=f"Bench {seed}")
        photo.refresh_from_db()
        if photo.status != Photo.Status.READY:
            raise SystemExit(f"photo {seed} is {photo.status}: {photo.error}")
        ids.append(photo.pk)
    rebuild_index()
    experiment = Experiment.objects.create(name="Benchmark", is_active=True)
    Variant.objects.create(experiment=experiment, name="knn", strategy="style_knn", weight=1)
    Variant.objects.create(experiment=experiment, name="rnd", strategy="random", weight=1)
    return ids


def visitor():
    from django.test import Client

    return Client(headers={"user-agent": BROWSER_UA})


def impression_token(html: str) -> str | None:
    marker = 'data-impression="'
    start = html.find(marker)
    if start < 0:
        return None
    start += len(marker)
    return html[start : html.index('"', start)]


def shown(html: str) -> list[tuple[int, int]]:
    import re

    return [
        (int(photo), int(position))
        for position, photo in re.findall(r'data-position="(\d+)" data-photo="(\d+)"', html)
    ]


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


class Timings(dict):
    def add(self, name: str, ms: float) -> None:
        self.setdefault(name, []).append(ms)


def post(client, event: dict):
    response = client.post("/api/events/", event, content_type="application/json", secure=True)
    if response.status_code != 204:
        raise SystemExit(f"{event['type']}: {response.status_code} {response.content[:200]!r}")
    return response


def page_views(photo_ids, n_views, timings: Timings, label: str, events: bool, seed: int):
    """`n_views` photo pages by VISITORS visitors; with `events`, what the browser would post."""
    rng = random.Random(seed)
    clients = [visitor() for _ in range(VISITORS)]
    for i in range(WARMUP + n_views):
        client = clients[i % VISITORS]
        photo = rng.choice(photo_ids)
        ms, response = timed(lambda c=client, p=photo: c.get(f"/photos/{p}/", secure=True))
        assert response.status_code == 200, response.status_code
        if i >= WARMUP:
            timings.add(label, ms)
        if not events:
            continue
        html = response.content.decode()
        token = impression_token(html)
        if token:
            event = {"type": "impression", "token": token}
            ms, _ = timed(lambda c=client, e=event: post(c, e))
            timings.add("POST impression (new)", ms)
            ms, _ = timed(lambda c=client, e=event: post(c, e))
            timings.add("POST impression (repeat)", ms)
            if rng.random() < 0.25:
                target, position = rng.choice(shown(html))
                event = {"type": "click", "token": token, "photo": target, "position": position}
                ms, _ = timed(lambda c=client, e=event: post(c, e))
                timings.add("POST click", ms)
        view = str(uuid.uuid4())
        for seconds in (rng.uniform(1, 30), rng.uniform(30, 60)):
            event = {"type": "dwell", "page_view": view, "path": f"/photos/{photo}/"}
            event["seconds"] = round(seconds, 3)
            ms, _ = timed(lambda c=client, e=event: post(c, e))
            timings.add("POST dwell (new)" if seconds < 30 else "POST dwell (update)", ms)


def background_events(
    photo_ids, rate: float, stop: threading.Event, counter: list[int], ready: threading.Event
) -> None:
    """Other visitors' browsers posting events at `rate` per second (own DB connection): new
    impressions of lists they were shown (tokens collected beforehand) and dwell reports."""
    from django.db import connection

    rng = random.Random(99)
    clients = [visitor() for _ in range(10)]
    tokens = []
    try:
        for i in range(200):  # their page views, before the timed row
            client = clients[i % len(clients)]
            html = client.get(f"/photos/{rng.choice(photo_ids)}/", secure=True).content.decode()
            token = impression_token(html)
            if token:
                tokens.append((client, token))
        ready.set()
        interval, next_at = 1.0 / rate, time.perf_counter()
        while not stop.is_set():
            if counter[0] % 2 == 0 and tokens:
                client, token = tokens.pop()
                post(client, {"type": "impression", "token": token})
            else:
                client = rng.choice(clients)
                view = str(uuid.uuid4())
                post(client, {"type": "dwell", "page_view": view, "path": "/", "seconds": 3})
            counter[0] += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
    finally:
        ready.set()
        connection.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(timings: Timings) -> list[dict]:
    return [
        {
            "what": name,
            "n": len(values),
            "p50_ms": round(percentile(values, 0.50), 2),
            "p95_ms": round(percentile(values, 0.95), 2),
            "mean_ms": round(statistics.fmean(values), 2),
        }
        for name, values in timings.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=120, help="photos in the gallery")
    parser.add_argument("--views", type=int, default=300, help="timed page views per row")
    parser.add_argument(
        "--event-rate",
        type=float,
        default=50.0,
        help="events per second posted by other visitors during the 'alongside' row",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sf-event-bench-") as folder:
        configure(Path(folder))
        started = time.perf_counter()
        print(f"Building a site with {args.photos} photos…", file=sys.stderr)
        photo_ids = build_site(args.photos)
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        timings = Timings()
        pages_alone = "GET photo page, no events"
        pages_after = "GET photo page, events after each view"
        pages_along = "GET photo page, events posted alongside"
        page_views(photo_ids, args.views, timings, pages_alone, events=False, seed=1)
        page_views(photo_ids, args.views, timings, pages_after, events=True, seed=2)

        stop, ready, counter = threading.Event(), threading.Event(), [0]
        worker = threading.Thread(
            target=background_events, args=(photo_ids, args.event_rate, stop, counter, ready)
        )
        worker.start()
        ready.wait()
        started = time.perf_counter()
        try:
            page_views(photo_ids, args.views, timings, pages_along, events=False, seed=3)
        finally:
            stop.set()
            worker.join()
        achieved = counter[0] / (time.perf_counter() - started)

        order = [pages_alone, pages_after, pages_along]
        order += sorted(name for name in timings if name.startswith("POST"))
        rows = summary(Timings({name: timings[name] for name in order}))
        from django.db import connection

        report = {
            "photos": args.photos,
            "views": args.views,
            "database": connection.vendor,
            "background_events_per_second": round(achieved, 1),
            "rows": rows,
        }
        if args.json:
            print(json.dumps(report, indent=2))
            return 0
        width = max(len(row["what"]) for row in rows)
        print(
            f"\nEvent latency: {args.photos} photos, {connection.vendor} database, "
            f"test client (server time only), experiment style_knn vs random"
        )
        print(f"{'':{width}}  {'n':>5}  {'p50 ms':>8}  {'p95 ms':>8}  {'mean ms':>8}")
        for row in rows:
            print(
                f"{row['what']:{width}}  {row['n']:>5}  {row['p50_ms']:>8.2f}  "
                f"{row['p95_ms']:>8.2f}  {row['mean_ms']:>8.2f}"
            )
        print(f"('alongside': other visitors posted {achieved:.0f} events/s meanwhile)")
        alone, after, along = (next(r for r in rows if r["what"] == n) for n in order[:3])
        print(
            f"Page p50 with events after each view: {after['p50_ms'] - alone['p50_ms']:+.2f} ms; "
            f"with events posted alongside: {along['p50_ms'] - alone['p50_ms']:+.2f} ms."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
