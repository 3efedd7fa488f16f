"""`GET /healthz`: is this web process able to serve? For the container HEALTHCHECK and load
balancers.

It checks the two services every request may need, cheaply: the database (`SELECT 1`) and the
cache (a set and a get of one short-lived key). No authentication, no template, no session:

    200 {"database": "ok", "cache": "ok"}
    503 {"database": "ok", "cache": "error: ConnectionError"}   (what failed, not why: see the log)

`python -m config.health` is the container's HEALTHCHECK: it asks this endpoint over HTTP on the
local gunicorn (port from GUNICORN_BIND or PORT, as config/gunicorn.conf.py binds) and exits 0 when
it answered 200. It sends the headers a TLS-terminating proxy would (`X-Forwarded-Proto: https`
and an allowed host name), so the production settings' HTTPS redirect and host check apply as they
do to real traffic.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid

from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

CACHE_KEY = "healthz"


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    # A set and a get: a cache that swallows its errors (get -> None) still shows up as failed.
    token = uuid.uuid4().hex
    cache.set(CACHE_KEY, token, timeout=10)
    if cache.get(CACHE_KEY) != token:
        raise ConnectionError("the cache did not return what was just stored")


CHECKS = {"database": check_database, "cache": check_cache}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    result: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure is a "no", with its class for the operator
            logger.warning("Health check: %s failed", name, exc_info=True)
            result[name] = f"error: {type(exc).__name__}"
        else:
            result[name] = "ok"
    healthy = all(value == "ok" for value in result.values())
    return JsonResponse(result, status=200 if healthy else 503)


# --- The container's HEALTHCHECK: `python -m config.health` -----------------------------------


def local_address() -> tuple[str, int]:
    """Where the local gunicorn listens: GUNICORN_BIND (first, host:port) or 0.0.0.0:PORT."""
    bind = (os.environ.get("GUNICORN_BIND") or "").split(",")[0].strip()
    if bind and not bind.startswith(("unix:", "fd://")):
        host, _, port = bind.rpartition(":")
        host = host.strip("[]")
        return ("127.0.0.1" if host in {"", "0.0.0.0", "::"} else host), int(port)
    return "127.0.0.1", int(os.environ.get("PORT") or 8000)


def allowed_host_name() -> str:
    """A host name the site answers to (DJANGO_ALLOWED_HOSTS' first usable entry)."""
    for entry in (os.environ.get("DJANGO_ALLOWED_HOSTS") or "localhost").split(","):
        entry = entry.strip().lstrip(".")
        if entry and entry != "*":
            return entry
    return "localhost"


def main() -> int:
    import http.client

    host, port = local_address()
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(
            "GET",
            "/healthz",
            headers={"Host": allowed_host_name(), "X-Forwarded-Proto": "https"},
        )
        response = connection.getresponse()
        body = response.read(500).decode(errors="replace")
    except OSError as exc:
        print(f"healthz: {host}:{port} unreachable: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    print(f"healthz: {response.status} {body}")
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
