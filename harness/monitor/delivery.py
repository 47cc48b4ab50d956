"""Delivery through Apprise: each notification to each destination in ``alerts.urls``, once.

A destination is a URL Apprise understands (``json://``, ``slack://``, ``mailto://``...),
written in the scenario or read from an environment variable (``{env: NAME}``) when the
notification is sent; a variable that is not set is no destination. URLs hold secrets (tokens,
passwords), so none is ever shown, logged or stored: a destination is named by its index in
``alerts.urls`` and its scheme (``destination 1 (slack)``), and Apprise's error text is
scrubbed of every part of the URL before it is kept.

Apprise is used as a library only: no configuration file, no plug-in folder and no persistent
storage is read or written (``AppriseAsset(storage_mode="memory")``, no ``AppriseConfig``).
A failed send is tried again ``retries`` times with a short backoff; a destination that still
fails is left for a later round, and is not tried again for other notifications in the same
round (so a webhook that is down costs one round of retries, not one per notification).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import parse_qsl, unquote, urlsplit

from harness.scenario.objectives import Alerts
from harness.store.alerts import NoticeKind, Notification

BACKOFF_S = 0.5
"""The wait before the first retry; each retry waits twice as long, up to ``MAX_BACKOFF_S``."""
MAX_BACKOFF_S = 8.0

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class Destination:
    """One place notifications go. Its URL is never shown: not even in ``repr``."""

    index: int
    scheme: str
    url: str = field(repr=False)

    @property
    def name(self) -> str:
        """How it is named wherever a person reads about it: ``destination 0 (json)``."""
        return f"destination {self.index} ({self.scheme})"


NOT_SENT = "not sent: no destination"
"""How a notification that had nowhere to go is recorded (settled, not retried later: a
variable set weeks on must not bring every stale reminder with it)."""


def destinations(alerts: Alerts, environ: Mapping[str, str]) -> tuple[list[Destination],
                                                                      list[str]]:
    """The destinations of ``alerts`` as things stand, and the environment variables named
    for a destination but not set (no destination there)."""
    found, unset = [], []
    for index, spec in enumerate(alerts.urls):
        url = environ.get(spec["env"], "") if isinstance(spec, dict) else spec
        if not url.strip():
            unset.append(spec["env"] if isinstance(spec, dict) else f"urls[{index}]")
            continue
        match = _SCHEME.match(url.strip())
        found.append(Destination(index, match[1].lower() if match else "?", url.strip()))
    return found, unset


def scrub(text: str, url: str) -> str:
    """``text`` with every part of ``url`` (user, password, host, path, query) masked."""
    parts = urlsplit(url)
    pieces = {url, parts.netloc, parts.path, parts.query, parts.fragment, parts.username or "",
              parts.password or "", parts.hostname or ""}
    pieces.update(segment for segment in parts.path.split("/"))
    with contextlib.suppress(ValueError):  # a port out of range: the netloc is masked anyway
        pieces.add(str(parts.port or ""))
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces.update((key, value))
    pieces |= {unquote(piece) for piece in pieces}  # as Apprise may log them, decoded
    for piece in sorted((p for p in pieces if len(p) >= 3), key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


Send = Callable[[Destination, str, str, NoticeKind], str | None]
"""Send one message to one destination: None when delivered, else why not (free of the URL)."""


def apprise_send(destination: Destination, title: str, body: str,
                 kind: NoticeKind) -> str | None:
    """Send through Apprise, as plain text; None when delivered, else Apprise's reason."""
    import warnings

    with warnings.catch_warnings():  # Apprise 2.3 loads imghdr, deprecated since Python 3.11
        warnings.simplefilter("ignore", DeprecationWarning)
        return _apprise_send(destination, title, body, kind)


def _apprise_send(destination: Destination, title: str, body: str,
                  kind: NoticeKind) -> str | None:
    import logging

    import apprise

    notifier = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
    if not notifier.add(destination.url):
        return "not a URL Apprise understands"
    notify_type = {"breach": apprise.NotifyType.FAILURE, "reminder": apprise.NotifyType.WARNING,
                   "recovery": apprise.NotifyType.SUCCESS}[kind]
    capture = apprise.LogCapture(  # type: ignore[no-untyped-call]
        level=logging.WARNING, fmt="%(message)s")
    with capture as captured:
        delivered = bool(notifier.notify(body=body, title=title, notify_type=notify_type,
                                         body_format=apprise.NotifyFormat.TEXT))
    if delivered:
        return None
    said = " ".join(captured.getvalue().split())
    return scrub(said, destination.url)[:300] or "not delivered (Apprise gave no reason)"


def send_with_retries(send: Send, destination: Destination, notification: Notification,
                      retries: int, sleep: Callable[[float], None]) -> tuple[int, str | None]:
    """Send, trying again up to ``retries`` times: (attempts made, the last error or None)."""
    error: str | None = None
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(BACKOFF_S * 2 ** (attempt - 1), MAX_BACKOFF_S))
        try:
            error = send(destination, notification.title, notification.text, notification.kind)
        except Exception as exc:  # a bug or an odd failure must not stop the run; its
            error = f"{type(exc).__name__}: {scrub(str(exc), destination.url)}"[:300]
        if error is None:
            return attempt + 1, None
    return retries + 1, error


def deliver(pending: Iterable[Notification], found: Sequence[Destination], unset: Sequence[str],
            at: datetime, *, retries: int, send: Send, sleep: Callable[[float], None],
            resting: Collection[int] = ()) -> tuple[list[Notification], set[int]]:
    """Try each pending notification at each destination that does not have it yet (but
    those ``resting``): each notification whose record changed, as it now stands (delivered
    at ``at`` once every destination has it), and the destinations that failed."""
    down: dict[int, str] = {}
    changed = []
    for notification in pending:
        have = list(notification.delivered_to)
        attempts, errors = notification.attempts, []
        for destination in found:
            if destination.index in have or destination.index in resting:
                continue
            if destination.index in down:
                errors.append(f"{destination.name}: {down[destination.index]}")
                continue
            made, error = send_with_retries(send, destination, notification, retries, sleep)
            attempts += made
            if error is None:
                have.append(destination.index)
            else:
                down[destination.index] = error
                errors.append(f"{destination.name}: {error}")
        if not found:  # nowhere to send it: settled as not sent, never sent late in a flood
            errors.append(f"{NOT_SENT}: " + ", ".join(unset) + " not set")
        complete = not found or all(d.index in have for d in found)
        now = replace(notification, attempts=attempts, delivered_to=tuple(sorted(have)),
                      delivered_at=at if complete else None,
                      last_error="; ".join(errors) if errors else notification.last_error)
        if now != notification:
            changed.append(now)
    return changed, set(down)
