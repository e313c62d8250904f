"""A real HTTP server on 127.0.0.1 for tests that fetch over the network.

Tests use it through the ``loopback`` fixture (see ``tests/conftest.py``); the
server runs in a background thread on a free port, so async tests can fetch
from it with the real client::

    async def test_feed(loopback):
        feed_url = loopback.add(
            "/feed.xml", body=RSS_BYTES, content_type="application/rss+xml", etag='"v1"'
        )                                           # add() returns the full URL
        policy = loopback.policy()                   # FetchPolicy(allow_private=True, ...)
        poll = await poll_feed(feed_url, None, policy)
        again = await poll_feed(feed_url, poll.state, policy)   # server answers 304
        assert loopback.requests_for("/feed.xml")[-1].headers["if-none-match"] == '"v1"'

What a route can do:

- ``body``: ``bytes``, ``str`` (sent as UTF-8) or a zero-argument callable that
  returns an iterable of ``bytes`` chunks, streamed without Content-Length
  (see `stream_bytes` for a huge body and `trickle` for a slow one).
- ``etag`` / ``last_modified``: sent as headers; a request whose
  ``If-None-Match`` / ``If-Modified-Since`` matches gets ``304 Not Modified``.
- ``status``, ``content_type``, extra ``headers``; ``loopback.redirect(path, to)``
  adds a redirect (relative or absolute ``to``).
- ``loopback.url(path)`` builds a URL without adding a route; unknown paths get 404.

Every request is recorded (method, path with query, lower-case headers) in
``loopback.requests``; ``requests_for(path)`` filters by path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from bot.ingest.http import FetchPolicy

Body = bytes | str | Callable[[], Iterable[bytes]]

__all__ = ["LoopbackServer", "RecordedRequest", "Route", "stream_bytes", "trickle"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Route:
    """How the server answers one path."""

    status: int = 200
    body: Body = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None


def stream_bytes(
    total: int, chunk_size: int = 64 * 1024, fill: bytes = b"x"
) -> Callable[[], Iterator[bytes]]:
    """A body factory that streams `total` bytes in chunks, never holding more than one."""
    chunk = (fill * (chunk_size // len(fill) + 1))[:chunk_size]

    def generate() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            piece = chunk[: total - sent]
            sent += len(piece)
            yield piece

    return generate


def trickle(
    piece: bytes = b"<", interval: float = 0.1, duration: float = 10.0
) -> Callable[[], Iterator[bytes]]:
    """A body factory that sends `piece` every `interval` seconds for `duration` seconds."""

    def generate() -> Iterator[bytes]:
        end = time.monotonic() + duration
        while time.monotonic() < end:
            yield piece
            time.sleep(interval)

    return generate


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        owner = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner._record(RecordedRequest(self.command, self.path, headers))
        route = owner._route(self.path)
        if route is None:
            self._send(404, {"Content-Type": "text/plain"}, b"not found", send_body)
            return
        out: dict[str, str] = {}
        if route.content_type:
            out["Content-Type"] = route.content_type
        if route.etag:
            out["ETag"] = route.etag
        if route.last_modified:
            out["Last-Modified"] = route.last_modified
        out.update(route.headers)
        inm = headers.get("if-none-match")
        ims = headers.get("if-modified-since")
        if (route.etag and inm == route.etag) or (
            route.last_modified and ims == route.last_modified and not inm
        ):
            self._send(304, {k: v for k, v in out.items() if k != "Content-Type"}, b"", False)
            return
        body = route.body
        if callable(body):
            self._stream(route.status, out, body(), send_body)
        else:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self._send(route.status, out, data, send_body)

    def _send(self, status: int, headers: dict[str, str], data: bytes, send_body: bool) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers and status != 304:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if send_body and data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, which is what some tests provoke

    def _stream(
        self, status: int, headers: dict[str, str], chunks: Iterable[bytes], send_body: bool
    ) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if not send_body:
                return
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # don't wait for trickling handlers on close

    def __init__(self, owner: LoopbackServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner


class LoopbackServer:
    """A threaded HTTP/1.0 server on 127.0.0.1 with routes added at run time."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def add(
        self,
        path: str,
        body: Body = b"",
        *,
        status: int = 200,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> str:
        """Serve `body` at `path` (query included if given); returns the URL."""
        route = Route(status, body, content_type, dict(headers or {}), etag, last_modified)
        with self._lock:
            self._routes["/" + path.lstrip("/")] = route
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        """Answer `path` with a redirect to `to`; returns the URL of `path`."""
        return self.add(path, status=status, content_type=None, headers={"Location": to})

    def policy(self, **overrides: Any) -> FetchPolicy:
        """A FetchPolicy that may reach this server (allow_private) with a short timeout."""
        values: dict[str, Any] = {"allow_private": True, "timeout": 5.0}
        values.update(overrides)
        return FetchPolicy(**values)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Requests whose path (query ignored unless given) is `path`."""
        want = "/" + path.lstrip("/")
        with self._lock:
            return [r for r in self.requests if r.path == want or r.path.split("?", 1)[0] == want]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _route(self, path: str) -> Route | None:
        with self._lock:
            return self._routes.get(path) or self._routes.get(path.split("?", 1)[0])
