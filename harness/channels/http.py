"""Helpers shared by the adapters that speak HTTP through ``requests`` (X, Mastodon).

- :class:`Transport` gives every request a timeout (the SDKs send none, and a hung request
  would stall the runner) and can send requests meant for the platform's host to another
  base URL: a proxy, or a fake platform on loopback in tests. The SDK still builds (and signs)
  its requests for the real host.
- :func:`error_for_status` turns an HTTP status into the project's own errors.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InsecureRequestWarning

from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    ChannelError,
    RateLimited,
    TransientError,
)

TIMEOUT_S = 30.0


class Transport(HTTPAdapter):
    """A ``requests`` transport with a default timeout that may redirect to ``base`` and
    checks certificates as ``verify`` says (a CA bundle path, or whether to check at all),
    whatever ``REQUESTS_CA_BUNDLE`` says."""

    def __init__(self, base: str | None = None, timeout: float = TIMEOUT_S,
                 verify: str | bool = True) -> None:
        super().__init__(max_retries=0)  # the runner owns retries
        self.base = urlsplit(base) if base else None
        self.timeout = timeout
        self.verify = verify

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        kwargs["verify"] = self.verify
        if self.verify is False:  # said once, in capitals, by the preflight: not per request
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InsecureRequestWarning)
                return self._send(request, *args, **kwargs)
        return self._send(request, *args, **kwargs)

    def _send(self, request: requests.PreparedRequest, *args: Any,
              **kwargs: Any) -> requests.Response:
        if self.base is not None and request.url:
            parts = urlsplit(request.url)
            prefix = self.base.path.rstrip("/")
            request.url = urlunsplit((self.base.scheme, self.base.netloc, prefix + parts.path,
                                      parts.query, parts.fragment))
        return super().send(request, *args, **kwargs)


def mount(session: requests.Session, base: str | None, timeout: float = TIMEOUT_S,
          verify: str | bool = True) -> None:
    """Route every request of ``session`` through a :class:`Transport`."""
    transport = Transport(base, timeout, verify)
    session.mount("https://", transport)
    session.mount("http://", transport)


def error_for_status(status: int, message: str,
                     reset_at: datetime | None = None) -> ChannelError:
    """The error a platform's HTTP ``status`` means for us."""
    if status == 401:
        return AuthenticationFailed(message)
    if status == 429:
        return RateLimited(message, reset_at)
    if status in (400, 403, 404, 409, 422):
        return AccessDenied(message)
    return TransientError(message)
