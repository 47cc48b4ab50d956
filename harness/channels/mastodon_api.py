"""Talking to a Mastodon server through Mastodon.py: clients that fail fast and never wait,
and the library's failures as the project's errors.

Mastodon.py is made to fail fast and never wait: ``ratelimit_method="throw"`` (a 429 raises
at once; "wait" and "pace" would sleep), a pinned ``mastodon_version`` with
``version_check_mode="none"`` (no probe of the server on construction), and a request timeout.
Its errors become the project's own; the runner decides when to try again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonRatelimitError,
)

from harness.channels import http, tls
from harness.channels.commons import parse_time
from harness.errors import ChannelError, NotConfigured, RateLimited, TransientError

MASTODON_VERSION = "4.2.0"
"""The API version Mastodon.py assumes (never asked of the server)."""


def reset_time(header: str | None) -> datetime | None:
    """``X-RateLimit-Reset``: an ISO 8601 time on Mastodon, epoch seconds on some others."""
    if not header:
        return None
    try:
        if header.strip().isdigit():
            return datetime.fromtimestamp(int(header), UTC)
        return parse_time(header.strip())
    except (ValueError, OverflowError, OSError):
        return None


class LastResponse:
    """What the last HTTP response said (Mastodon.py's rate-limit error carries neither)."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.reset: str | None = None

    def clear(self) -> None:
        self.status = self.reset = None

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.status = response.status_code
        self.reset = response.headers.get("X-RateLimit-Reset")


def connect(token: str, instance: str, timeout_s: float, verify: str | bool,
            last: LastResponse, channel_id: str) -> Mastodon:
    """A client of ``instance`` for the account of ``token`` (nothing asked of the server
    yet), whose every response ``last`` sees."""
    session = requests.Session()
    http.mount(session, None, timeout_s, verify)
    session.hooks["response"].append(last.hook)
    try:
        return Mastodon(
            access_token=token, api_base_url=instance,
            ratelimit_method="throw", version_check_mode="none",
            mastodon_version=MASTODON_VERSION, request_timeout=timeout_s,
            session=session, user_agent="shopper-harness")
    except MastodonError:
        session.close()
        raise NotConfigured(f"channel {channel_id!r}: Mastodon.py refused the "
                            "settings (check settings.instance)") from None


@contextmanager
def api_errors(action: str, last: LastResponse, safe: Callable[[object], str]
               ) -> Iterator[None]:
    """Make requests, turning every failure into the project's errors (what the library or
    server said goes through ``safe``)."""
    last.clear()
    try:
        yield
    except ChannelError:
        raise
    except MastodonRatelimitError:
        reset = reset_time(last.reset) if last.status == 429 else None
        raise RateLimited(f"Mastodon: {action}: rate limited (429)", reset) from None
    except MastodonNetworkError as exc:
        raise tls.connection_error(f"Mastodon: {action}", exc, safe(exc)) from None
    except MastodonAPIError as exc:
        status = next((a for a in exc.args if isinstance(a, int)), None)
        if status is None:  # a body that is not the JSON it should be
            raise TransientError(f"Mastodon: {action}: malformed response") from None
        detail = f": {safe(exc.args[3])}" if len(exc.args) > 3 and exc.args[3] else ""
        raise http.error_for_status(status, f"Mastodon: {action}: {status}{detail}") from None
    except MastodonError as exc:
        raise TransientError(f"Mastodon: {action}: {safe(exc)}") from None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise TransientError(f"Mastodon: {action}: unexpected response "
                             f"({type(exc).__name__})") from None
