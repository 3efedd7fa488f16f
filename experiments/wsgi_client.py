"""A small HTTP client that calls a WSGI application in this process: no socket, no test tools.

The traffic simulator (`experiments.simulation`) browses the site with one `WSGIClient` per
simulated visitor: the same application gunicorn serves (`settings.WSGI_APPLICATION`), a proper
WSGI environ per request, the visitor's headers and its own cookie jar (what the site sets is
sent back, as a browser does). Only what the simulator needs: one host, no redirects followed,
cookies without path or domain matching (the site sets its cookies on `/`).

The requests run in the caller's thread, so on the caller's database connections (Django keeps
one per thread). A server in another process would never close those, so neither do these
requests: while one runs, `close_old_connections` is kept off the request signals (as Django's
own in-process test client does), and a caller inside a transaction keeps its transaction.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from urllib.parse import unquote_to_bytes, urlsplit

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


@dataclass(frozen=True)
class WSGIResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    def text(self) -> str:
        """The body decoded with the charset of its Content-Type (UTF-8 when none)."""
        message = Message()
        message["Content-Type"] = self.header("Content-Type") or "text/plain"
        return self.body.decode(message.get_content_charset() or "utf-8", errors="replace")


class WSGIClient:
    """Requests to `app` as one browser would send them: `headers` (e.g. {"User-Agent": ...})
    on every request, and one cookie jar (`cookies`, a `SimpleCookie`) for its whole life."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        host: str = "localhost",
        secure: bool = False,
        headers: dict[str, str] | None = None,
        remote_addr: str = "127.0.0.1",
    ):
        self.app = app
        self.host = host
        self.secure = secure
        self.headers = dict(headers or {})
        self.remote_addr = remote_addr
        self.cookies = SimpleCookie()

    def get(self, url: str) -> WSGIResponse:
        return self.request("GET", url)

    def post_json(self, url: str, data) -> WSGIResponse:
        return self.request("POST", url, json.dumps(data).encode(), "application/json")

    def request(
        self, method: str, url: str, body: bytes = b"", content_type: str | None = None
    ) -> WSGIResponse:
        environ = self._environ(method, url, body, content_type)
        captured: dict = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return chunks.append  # the legacy `write()` callable

        chunks: list[bytes] = []
        with _connections_left_to_the_caller():
            result = self.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()  # request_finished: what a WSGI server does after sending
        response = WSGIResponse(
            int(captured["status"].split(" ", 1)[0]), list(captured["headers"]), b"".join(chunks)
        )
        self._keep_cookies(response)
        return response

    def _environ(self, method: str, url: str, body: bytes, content_type: str | None) -> dict:
        parts = urlsplit(url)
        environ = {
            "REQUEST_METHOD": method.upper(),
            "SCRIPT_NAME": "",
            # PEP 3333: the raw (percent-decoded) path bytes, as a latin-1 string.
            "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("iso-8859-1"),
            "QUERY_STRING": parts.query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": "443" if self.secure else "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "HTTP_HOST": self.host,
            "CONTENT_LENGTH": str(len(body)) if body else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.secure else "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if content_type:
            environ["CONTENT_TYPE"] = content_type
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(
                f"{morsel.key}={morsel.coded_value}" for morsel in self.cookies.values()
            )
        return environ

    def _keep_cookies(self, response: WSGIResponse) -> None:
        for name, value in response.headers:
            if name.lower() != "set-cookie":
                continue
            try:
                received = SimpleCookie(value)
            except CookieError:
                continue  # a browser ignores a cookie it cannot parse
            for key, morsel in received.items():
                if morsel["max-age"] in ("0", 0):
                    self.cookies.pop(key, None)  # deleted by the site
                else:
                    self.cookies[key] = morsel


@contextmanager
def _connections_left_to_the_caller() -> Iterator[None]:
    """Keep the request signals from closing the caller's database connections (see above)."""
    disconnected = [
        signal
        for signal in (request_started, request_finished)
        if signal.disconnect(close_old_connections)
    ]
    try:
        yield
    finally:
        for signal in disconnected:
            signal.connect(close_old_connections)
