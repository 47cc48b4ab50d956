"""A small HTTP server on loopback for fake platforms: routes, a request log, and faults.

Each fake platform registers its real routes (``GET /2/users/{id}/mentions`` and so on) and
answers with the platform's real JSON. Every request is logged with the fake clock's time.
Faults can be forced on the next requests matching a route (429 with or without reset
headers, 401, 403, 5xx, a dropped connection, malformed JSON) or injected at random at a rate.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.clock import Clock


@dataclass
class Request:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, []) + self.query.get(f"{name}[]", [])

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        ctype = self.headers.get("content-type", "")
        if "json" in ctype:
            return {k: v for k, v in self.json().items()}
        return {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """A forced answer for the next ``count`` requests whose path matches ``route``."""

    route: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    count: int = 1
    kind: str = "status"  # status | drop | malformed
    method: str | None = None


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    method: str
    path: str
    query: dict[str, list[str]]
    status: int


Handler = Callable[[Request], Response]


class FakeServer:
    """An HTTP server on 127.0.0.1 with a free port, serving registered routes."""

    def __init__(self, clock: Clock, *, fault_rate: float = 0.0, seed: int = 0) -> None:
        self.clock = clock
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.log: list[LogEntry] = []
        self.faults: list[Fault] = []
        self.fault_rate = fault_rate
        self.random_faults: list[Callable[[], Fault]] = []
        self.injected = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve ``method pattern`` (``{name}`` matches one path segment) with ``handler``."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.routes.append((method, regex, handler))

    def fail_next(self, route: str, status: int, *, headers: dict[str, str] | None = None,
                  count: int = 1, kind: str = "status", method: str | None = None) -> None:
        """Answer the next ``count`` requests whose path matches the regex ``route`` so."""
        with self._lock:
            self.faults.append(Fault(route, status, dict(headers or {}), count, kind, method))

    def fail_as(self, route: str, method: str, failure: str, count: int,
                reset_headers: dict[str, str]) -> None:
        """Answer the next ``count`` ``method`` requests to ``route`` with one of the
        failures of ``tests.fakes.platform`` (rate limits carry ``reset_headers``)."""
        status, headers, kind = {
            "auth": (401, {}, "status"),
            "denied": (403, {}, "status"),
            "rate_limited": (429, reset_headers, "status"),
            "rate_limited_no_reset": (429, {}, "status"),
            "server_error": (503, {}, "status"),
            "dropped": (0, {}, "drop"),
        }[failure]
        self.fail_next(route, status, headers=headers, count=count, kind=kind, method=method)

    def requests(self, method: str, path_pattern: str) -> list[LogEntry]:
        regex = re.compile(path_pattern)
        return [e for e in self.log if e.method == method and regex.search(e.path)]

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- serving ----------------------------------------------------------------------------

    def _forced(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if (re.search(fault.route, path) and fault.count > 0
                        and fault.method in (None, method)):
                    fault.count -= 1
                    self.injected += 1
                    return fault
            if self.random_faults and self._random.random() < self.fault_rate:
                self.injected += 1
                return self._random.choice(self.random_faults)()
        return None

    def _dispatch(self, request: Request) -> tuple[Response | None, Fault | None]:
        fault = self._forced(request.method, request.path)
        if fault is not None:
            if fault.kind == "status":
                return Response(fault.status, {"error": f"fault {fault.status}"},
                                fault.headers), fault
            if fault.kind == "malformed":
                return Response(200, b'{"data": [', {"content-type": "application/json"}), fault
            return None, fault  # drop
        for method, regex, handler in self.routes:
            match = regex.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                return handler(request), None
        return Response(404, {"error": f"no route {request.method} {request.path}"}), None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the fake keeps its own log

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                try:
                    response, _ = server._dispatch(request)
                except Exception as exc:  # a bug in a fake: answer 500 and say what
                    response = Response(500, {"error": f"fake crashed: {exc!r}"})
                server.log.append(LogEntry(server.clock.now(), request.method, request.path,
                                           request.query, response.status if response else 0))
                if response is None:
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = (response.body if isinstance(response.body, bytes)
                           else json.dumps(response.body).encode())
                self.send_response(response.status)
                headers = {"content-type": "application/json; charset=utf-8",
                           **response.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return Handler
