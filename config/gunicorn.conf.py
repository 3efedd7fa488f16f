"""Gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Every value can be changed from the environment (documented in README.md, "Configuration"):

  GUNICORN_BIND              where to listen; default 0.0.0.0:$PORT (PORT default 8000)
  WEB_CONCURRENCY            worker processes; default 2 × CPUs + 1, at most 8
  GUNICORN_THREADS           threads per worker (gthread workers when > 1); default 2
  GUNICORN_TIMEOUT           seconds before a silent worker is killed and replaced; default 120
  GUNICORN_GRACEFUL_TIMEOUT  seconds a worker gets to finish its requests on restart/stop; 30
  GUNICORN_KEEPALIVE         seconds an idle keep-alive connection stays open; default 5
  GUNICORN_MAX_REQUESTS      recycle a worker after this many requests (0 = never); default 0
  GUNICORN_PRELOAD           load the application before forking the workers; default 0
  GUNICORN_ACCESS_LOG        access log: `-` (stdout, the default), a file, or empty for none
  FORWARDED_ALLOW_IPS        proxies whose X-Forwarded-* headers gunicorn trusts (gunicorn's own
                             variable); default 127.0.0.1,::1

Why these defaults:
- Workers: the request mix is short database reads plus some numpy (the in-memory index); 2 × CPUs
  + 1 processes keep the CPUs busy. The cap: every worker holds its own copy of the in-memory
  index (photos × 222 dims × 4 bytes: 89 MB at 100k photos) and, once a visitor uploads a photo
  to "Find photos like yours", the CNN (a few hundred MB). Scale out with more containers, not
  more workers per container.
- Threads: requests wait on PostgreSQL and Redis, so a second thread per worker overlaps those
  waits and shares the worker's index. More do not pay since pages and answers come from the
  cache: on 2 CPUs with 16 connections (`benchmarks/load.py`) 4 threads gave the similar-photos
  API a p99 of 123–156 ms (the threads of a worker queue for the GIL), 2 threads 66–83 ms at the
  same throughput. With gthread workers a long request (a big zip upload in the admin) does not
  trip the timeout, which only catches a worker whose main loop hangs.
- Preload off: TensorFlow and the database/Redis clients are not fork-safe, each worker loads its
  index after the fork anyway (little copy-on-write sharing to gain), and without preloading a
  HUP (`kill -HUP <master>`) reloads new code worker by worker.
- The worker heartbeat file goes to /dev/shm when it exists: on a disk-backed /tmp (Docker's
  overlay filesystem) the heartbeat's fchmod can block a worker.
- The control socket (new in gunicorn 25) is off: its default path is per user, so two gunicorns
  on one machine (tests, benchmarks) would fight over it, and nothing here uses `gunicornc`.
"""

from __future__ import annotations

import math
import os


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in {"1", "true", "yes", "on"}


def available_cpus() -> int:
    """CPUs this process may use: its affinity, lowered by a cgroup v2 quota (containers)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as quota_file:
            quota, period = quota_file.read().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


MAX_DEFAULT_WORKERS = 8

bind = [
    address.strip()
    for address in (
        os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT') or 8000}"
    ).split(",")
    if address.strip()
]
workers = env_int("WEB_CONCURRENCY", min(2 * available_cpus() + 1, MAX_DEFAULT_WORKERS))
threads = env_int("GUNICORN_THREADS", 2)
worker_class = "gthread" if threads > 1 else "sync"
timeout = env_int("GUNICORN_TIMEOUT", 120)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = env_int("GUNICORN_KEEPALIVE", 5)
max_requests = env_int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
preload_app = env_bool("GUNICORN_PRELOAD", False)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"

if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# Logs on stdout/stderr, where containers and process managers collect them.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
errorlog = "-"
loglevel = os.environ.get("DJANGO_LOG_LEVEL", "info").lower()
capture_output = False

control_socket_disable = True
proc_name = "stylefinder"
