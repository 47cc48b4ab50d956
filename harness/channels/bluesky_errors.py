"""The AT Protocol libraries' failures as the project's errors, for the Bluesky adapter.

429 is ``RateLimited`` (until ``ratelimit-reset``), 401 ``AuthenticationFailed``, 403 and
other refusals ``AccessDenied``, 5xx, network failures and malformed answers
``TransientError``; TLS failures no retry can cure are ``NotConfigured``. A refused *session*
(expired or revoked tokens) is :class:`SessionRefused`, for the caller to log in again once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NoReturn, TypeVar

import httpx
from atproto_client.exceptions import (  # type: ignore[import-untyped]
    LoginRequiredError,
    RateLimitExceededError,
    RequestErrorBase,
)
from atproto_client.models.common import XrpcError  # type: ignore[import-untyped]
from atproto_core.exceptions import AtProtocolError  # type: ignore[import-untyped]
from atproto_server.exceptions import InvalidTokenError  # type: ignore[import-untyped]

from harness.channels import http, tls
from harness.channels.commons import scrub
from harness.errors import AuthenticationFailed, RateLimited

T = TypeVar("T")

TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
"""XRPC errors meaning the session, not the account, was refused: log in again once."""

_scrub = partial(scrub, queries=True, name_if_empty=True)
"""An exception's words, short and without query strings (it is named if it says nothing)."""


class SessionRefused(Exception):
    """The platform refused the session's tokens (expired, revoked, unreadable)."""


def mapped(request: Callable[[], T], what: str) -> T:
    """Run one library call, turning every failure into the project's errors."""
    try:
        return request()
    except RateLimitExceededError as exc:
        raise RateLimited(f"Bluesky: {what}: 429 {_detail(exc)}", exc.reset_at) from None
    except RequestErrorBase as exc:
        _raise_for(exc, what)
    except (LoginRequiredError, InvalidTokenError):
        raise SessionRefused from None  # no usable token in the session
    except (AtProtocolError, httpx.HTTPError, ValueError) as exc:  # models, network, JSON
        raise tls.connection_error(f"Bluesky: {what}", exc,
                                   f"{type(exc).__name__}: {_scrub(exc)}") from None


def _error_code(exc: Any) -> str | None:
    content = exc.response.content if exc.response is not None else None
    if isinstance(content, XrpcError):
        return str(content.error)
    return None


def _detail(exc: Any) -> str:
    content = exc.response.content if exc.response is not None else None
    if isinstance(content, XrpcError):
        return f"{content.error}: {content.message}" if content.message else str(content.error)
    return ""


def _raise_for(exc: Any, what: str) -> NoReturn:
    """The project's error for an XRPC error answer (or a transport failure)."""
    if _error_code(exc) in TOKEN_ERRORS:
        raise SessionRefused from None
    if exc.response is None:  # no answer: network error, timeout, TLS
        raise tls.connection_error(f"Bluesky: {what}", exc,
                                   f"{type(exc).__name__}: {_scrub(exc)}") from None
    status = int(exc.response.status_code)
    message = f"Bluesky: {what}: {status} {_detail(exc)}".rstrip()
    if status == 401:
        raise AuthenticationFailed(message) from None
    raise http.error_for_status(status, message) from None
