"""A small HTTP server on loopback for fake platforms: routes, a request log, and faults.

Each fake platform registers its real routes (``GET /2/users/{id}/mentions`` and so on) and
answers with the platform's real JSON. Every request is logged with the fake clock's time (when
it arrived) and the fault it met, if any.

Faults can be

- forced on the next requests matching a route (:meth:`FakeServer.fail_next`: 429 with or
  without reset headers, 401, 403, 5xx, a dropped connection, malformed JSON);
- injected at random, at a rate, from a weighted mix (:meth:`FakeServer.inject`; each fake
  platform wires its own mix with :func:`http_mix`): seeded, so a run meets the same faults
  every time it makes the same requests;
- or forced on every request in a stretch of world time (:meth:`FakeServer.outage`).

A fault may strike *before* the request is handled (the platform did nothing) or *after* it
(``Fault.after``: the platform did it, a post was created, but the client hears an error, a
dropped connection, a broken body, or nothing until it gives up): the case that tells whether
a retry posts twice.
"""

from __future__ import annotations

import json
import random
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from harness.clock import Clock
from tests.fakes.platform import RESET_AFTER_S, Hit, Traffic
from tests.fakes.tls import TLSWrapping
from tests.fakes.world import World

F = TypeVar("F")
"""A fault as a fake applies it (an HTTP :class:`Fault`, a mail session's fault)."""


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
    kind: str = "status"  # status | drop | malformed | truncated | timeout
    method: str | None = None
    after: bool = False
    """Handle the request first (the platform acts on it), then fail the answer."""
    delay: float = 0.0
    """``timeout``: real seconds to stall before closing the connection unanswered (longer
    than the client's timeout, so the client gives up first)."""
    name: str = ""
    """What the mix calls it (for counting), e.g. ``drop_after``."""
    reset_at: datetime | None = None
    """For a 429 that says when to come back: that time (what its headers say)."""
    reset_after: timedelta | None = None
    """For a forced 429: say to come back this long after the request came (world time),
    in the headers ``reset_headers`` makes for that time."""
    reset_headers: Callable[[datetime], dict[str, str]] | None = None

    def at(self, moment: datetime) -> Fault:
        """The fault as it strikes a request that came at ``moment``."""
        if self.reset_after is None or self.reset_headers is None:
            return self
        reset = moment.replace(microsecond=0) + self.reset_after
        return replace(self, headers=self.reset_headers(reset), reset_at=reset)


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    fault: str = ""
    """The fault the request met ("" for none)."""
    reset_at: datetime | None = None
    """For a 429 with a reset time: the time it named."""


@dataclass(frozen=True)
class Outage:
    """Every request (matching ``route`` and ``method``, if given) that arrives between
    ``start`` and ``end`` (world time) fails as ``make`` says."""

    start: datetime
    end: datetime
    make: Callable[[], Fault]
    route: str | None = None
    method: str | None = None

    def covers(self, at: datetime, method: str, path: str) -> bool:
        return (self.start <= at < self.end and self.method in (None, method)
                and (self.route is None or re.search(self.route, path) is not None))


@dataclass(frozen=True)
class RandomFault(Generic[F]):
    """One kind of fault in a random mix: its name, how often relative to the others, and
    how to make it (from the injector's seeded random source)."""

    name: str
    make: Callable[[random.Random], F]
    weight: float = 1.0


class Injector(Generic[F]):
    """Decides, request by request (or session by session), whether a random fault strikes
    and which. Draws come in small shuffled bags (seeded) holding exactly ``rate`` of faults:
    at 20%, one fault in every five draws, at a random place among them; so a rate of 20%
    means 20% of requests, however few there are, not about 20%. Shared by the HTTP fakes
    and the mail fakes."""

    def __init__(self) -> None:
        self.rate = 0.0
        self.mix: list[RandomFault[F]] = []
        self.random = random.Random(0)
        self.draws = 0
        self.counts: Counter[str] = Counter()
        self._bag: list[bool] = []
        self._share = Fraction(0)

    def configure(self, rate: float, seed: int, mix: Sequence[RandomFault[F]]) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"a fault rate is between 0 and 1, not {rate}")
        self.rate, self.mix = rate, list(mix)
        self.random = random.Random(seed)
        self._bag = []
        self._share = Fraction(rate).limit_denominator(100)

    def draw(self) -> RandomFault[F] | None:
        """The fault this request or session meets, if any (counted)."""
        if not self.mix or self.rate <= 0:
            return None
        self.draws += 1
        if not self._bag:
            failing, size = self._share.numerator, self._share.denominator
            self._bag = [True] * failing + [False] * (size - failing)
            self.random.shuffle(self._bag)
        if not self._bag.pop():
            return None
        chosen = self.random.choices(self.mix, weights=[f.weight for f in self.mix])[0]
        self.counts[chosen.name] += 1
        return chosen


def http_mix(reset_headers: Callable[[datetime], dict[str, str]], now: Callable[[], datetime],
             *, timeout_s: float | None = None, reset_minutes: tuple[int, int] = (2, 10)
             ) -> list[RandomFault[Fault]]:
    """The random faults of an HTTP platform, none of them final (no 401 or 403: those fail
    a message for good by design, and a probe would fail legitimately):

    - ``429_reset`` (with headers saying to come back a few minutes after the world's now,
      ``reset_headers(reset time)``), ``429`` (without);
    - ``500``, ``502``, ``503`` before the request is handled, and ``503_after`` after it (the
      post was made, the platform answered an error anyway);
    - ``drop`` (connection closed unanswered) before and ``drop_after`` after handling;
    - ``malformed`` (200 with a broken JSON body) before and ``malformed_after`` after
      handling; ``truncated_after`` (the real answer cut off mid-body);
    - ``timeout`` before and ``timeout_after`` after handling: the fake stalls ``2 x
      timeout_s`` seconds, then closes the connection unanswered. Only when ``timeout_s`` (the
      client's timeout, as the test set it) is given: stalls cost real time.
    """
    def status(code: int, *, after: bool = False, name: str = "") -> RandomFault[Fault]:
        label = name or str(code)
        return RandomFault(label, lambda _r: Fault("", code, after=after, name=label))

    def limited(rng: random.Random) -> Fault:
        reset = now().replace(microsecond=0) + timedelta(
            minutes=rng.randint(*reset_minutes), seconds=rng.randint(0, 59))
        return Fault("", 429, reset_headers(reset), name="429_reset", reset_at=reset)

    def kind(label: str, what: str, *, after: bool = False, delay: float = 0.0,
             weight: float = 1.0) -> RandomFault[Fault]:
        return RandomFault(label, lambda _r: Fault("", 200 if what == "malformed" else 0,
                                                   kind=what, after=after, delay=delay,
                                                   name=label), weight)

    mix = [RandomFault("429_reset", limited), status(429), status(500), status(502),
           status(503), status(503, after=True, name="503_after"),
           kind("drop", "drop"), kind("drop_after", "drop", after=True),
           kind("malformed", "malformed"), kind("malformed_after", "malformed", after=True),
           kind("truncated_after", "truncated", after=True)]
    if timeout_s is not None:
        mix += [kind("timeout", "timeout", delay=2 * timeout_s, weight=0.5),
                kind("timeout_after", "timeout", after=True, delay=2 * timeout_s, weight=0.5)]
    return mix


Handler = Callable[[Request], Response]


class _HTTPServer(TLSWrapping, ThreadingHTTPServer):
    """HTTP, or HTTPS when ``tls`` is set."""


class FakeServer:
    """An HTTP server on 127.0.0.1 with a free port, serving registered routes."""

    def __init__(self, clock: Clock, *, fault_rate: float = 0.0, seed: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
        """``tls``: serve HTTPS with this server context (see :mod:`tests.fakes.tls`)."""
        self.clock = clock
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.log: list[LogEntry] = []
        self.faults: list[Fault] = []
        self.outages: list[Outage] = []
        self.injector: Injector[Fault] = Injector()
        self.injector.configure(fault_rate, seed, [])
        self.injected = 0
        """Faults of every sort met so far: forced, outages and random."""
        self._lock = threading.Lock()
        self._server = _HTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.tls = tls
        self._server.handshake_failures = []
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{'https' if self._server.tls else 'http'}://{host!s}:{port}"

    @property
    def handshake_failures(self) -> list[str]:
        """TLS handshakes that failed (the client refused us, or spoke plain text)."""
        return list(self._server.handshake_failures)

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve ``method pattern`` (``{name}`` matches one path segment) with ``handler``."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.routes.append((method, regex, handler))

    def fail_next(self, route: str, status: int, *, headers: dict[str, str] | None = None,
                  count: int = 1, kind: str = "status", method: str | None = None,
                  after: bool = False, reset_at: datetime | None = None,
                  delay: float = 0.0, name: str = "", reset_after: timedelta | None = None,
                  reset_headers: Callable[[datetime], dict[str, str]] | None = None) -> None:
        """Answer the next ``count`` requests whose path matches the regex ``route`` so
        (``after``: handle them first; ``delay``: how long a ``timeout`` stalls;
        ``reset_after`` with ``reset_headers``: a 429 saying to come back that long after the
        request came)."""
        with self._lock:
            self.faults.append(Fault(route, status, dict(headers or {}), count, kind, method,
                                     after=after, delay=delay, name=name, reset_at=reset_at,
                                     reset_after=reset_after, reset_headers=reset_headers))

    def fail_as(self, route: str, method: str, failure: str, count: int,
                reset_headers: dict[str, str], reset_at: datetime | None = None) -> None:
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
        self.fail_next(route, status, headers=headers, count=count, kind=kind, method=method,
                       reset_at=reset_at if failure == "rate_limited" else None)

    def inject(self, rate: float, seed: int, mix: Sequence[RandomFault[Fault]]) -> None:
        """From now on, ``rate`` of the requests (exactly: at 20%, one in every five) meet a
        fault drawn from ``mix``, seeded by ``seed``."""
        with self._lock:
            self.injector.configure(rate, seed, mix)

    def outage(self, start: datetime, end: datetime, *, route: str | None = None,
               method: str | None = None, status: int = 503) -> None:
        """Fail every request (to ``route`` by ``method``, if given) that arrives between the
        world times ``start`` and ``end`` with ``status`` (0: the connection dropped)."""
        def make() -> Fault:
            return Fault("", status, kind="status" if status else "drop", name="outage")

        with self._lock:
            self.outages.append(Outage(start, end, make, route, method))

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

    def _forced(self, method: str, path: str, at: datetime) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if (re.search(fault.route, path) and fault.count > 0
                        and fault.method in (None, method)):
                    fault.count -= 1
                    self.injected += 1
                    return fault.at(at)
            for outage in self.outages:
                if outage.covers(at, method, path):
                    self.injected += 1
                    return outage.make()
            chosen = self.injector.draw()
            if chosen is not None:
                self.injected += 1
                return chosen.make(self.injector.random)
        return None

    def _dispatch(self, request: Request, at: datetime) -> tuple[Response | None, Fault | None]:
        fault = self._forced(request.method, request.path, at)
        if fault is not None and not fault.after:
            return self._failed(fault, None), fault
        response = Response(404, {"error": f"no route {request.method} {request.path}"})
        for method, regex, handler in self.routes:
            match = regex.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                response = handler(request)
                break
        if fault is not None:
            return self._failed(fault, response), fault
        return response, None

    @staticmethod
    def _failed(fault: Fault, handled: Response | None) -> Response | None:
        """What a client gets for a request that met ``fault`` (None: nothing, the
        connection closes); ``handled`` is the real answer, if the request was handled."""
        if fault.kind == "status":
            return Response(fault.status, {"error": f"fault {fault.status}"}, fault.headers)
        if fault.kind == "malformed":
            return Response(200, b'{"data": [', {"content-type": "application/json"})
        if fault.kind == "truncated" and handled is not None:
            return handled  # sent cut short by the handler
        return None  # drop, timeout

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def date_time_string(self, timestamp: float | None = None) -> str:
                # the Date header tells the platform's time: the fake clock's
                from email.utils import format_datetime

                return format_datetime(server.clock.now(), usegmt=True)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the fake keeps its own log

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                at = server.clock.now()  # when it arrived (a stalled answer ends later)
                fault: Fault | None = None
                try:
                    response, fault = server._dispatch(request, at)
                except Exception as exc:  # a bug in a fake: answer 500 and say what
                    response = Response(500, {"error": f"fake crashed: {exc!r}"})
                label = ""
                if fault is not None:
                    label = fault.name or (f"status {fault.status}" if fault.kind == "status"
                                           else fault.kind)
                server.log.append(LogEntry(at, request.method, request.path, request.query,
                                           response.status if response else 0, label,
                                           fault.reset_at if fault else None))
                if fault is not None and fault.kind == "timeout":
                    time.sleep(fault.delay)  # the client gives up first
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
                if fault is not None and fault.kind == "truncated":
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.close()
                    return
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return Handler


class HttpPlatform:
    """What the HTTP fakes (X, Mastodon, Bluesky) share: failures on demand, injected
    faults, outages and the traffic log. A fake names the request that posts (``SEND``) and
    the reads a poll makes (``READS``, mentions or notifications first), and how its 429s say
    when to come back (:meth:`reset_headers`)."""

    SEND: tuple[str, str]
    READS: tuple[tuple[str, str], ...]
    world: World
    server: FakeServer

    @staticmethod
    def reset_headers(reset: datetime) -> dict[str, str]:
        raise NotImplementedError

    def fail(self, operation: str, failure: str, count: int = 1) -> None:
        route, method = self.SEND if operation == "send" else self.READS[0]
        reset = self.world.now() + timedelta(seconds=RESET_AFTER_S)
        self.server.fail_as(route, method, failure, count, self.reset_headers(reset), reset)

    def inject(self, rate: float, seed: int, *, timeout_s: float | None = None) -> None:
        self.server.inject(rate, seed, http_mix(self.reset_headers, self.world.now,
                                                timeout_s=timeout_s))

    def outage(self, start: datetime, end: datetime, operation: str | None = None) -> None:
        routes: Sequence[tuple[str | None, str | None]] = [(None, None)]
        if operation == "send":
            routes = [self.SEND]
        elif operation == "poll":
            routes = self.READS
        for route, method in routes:
            self.server.outage(start, end, route=route, method=method)

    def traffic(self) -> Traffic:
        return Traffic([Hit(e.at, f"{e.method} {e.path}", e.fault, e.reset_at)
                        for e in self.server.log])

    def read_times(self) -> list[str]:
        route, method = self.READS[0]
        return [e.at.isoformat() for e in self.server.requests(method, route)]

