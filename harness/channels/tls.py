"""TLS for every live adapter: which certificates to trust, and which failures are final.

Two settings, the same on every channel that connects to a server (x, mastodon, bluesky,
email), declared once in :data:`TLS_SETTINGS`: ``ca_file`` (a CA bundle to trust instead of
the system's) and ``verify_tls`` (``false``: check no certificate, shown in capitals).

A connection refused for its certificate, or a server that does not speak TLS where we
expect it (``ssl: true`` on a plain port), is not an outage: it is the same on every try.
:func:`tls_failure` recognises those under whatever the SDK wrapped them in, so adapters raise
:class:`~harness.errors.NotConfigured` and the runner stops the channel at once with the
reason, instead of retrying.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

from harness.channels.settings import BOOLEAN, PATH, Setting, Settings
from harness.errors import ChannelError, NotConfigured, TransientError

TLS_SETTINGS = (
    Setting("ca_file", PATH, "trust this CA bundle (PEM) instead of the system's CAs"),
    Setting("verify_tls", BOOLEAN, "check the server's certificate (false: a throwaway test "
            "server only)", default=True),
)
"""The settings of every adapter that connects to a server (see the module's docstring)."""

FINAL_REASONS = frozenset({
    "WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST",
    "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE", "TLSV1_ALERT_PROTOCOL_VERSION",
    "WRONG_SSL_VERSION", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE",
    "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_HANDSHAKE_FAILURE",
    "NO_SHARED_CIPHER", "UNSAFE_LEGACY_RENEGOTIATION_DISABLED",
})
"""OpenSSL reasons that mean the two ends cannot agree, however often we try (a plain-text
server, a protocol or cipher neither supports). End-of-file and reset during a handshake are
not among them: a server going down looks the same."""


def verification_off(settings: Settings) -> bool:
    """Whether the channel says not to check certificates (``verify_tls: false``)."""
    return settings.values.get("verify_tls", True) is False


def ca_file(settings: Settings) -> str | None:
    """The CA file the channel trusts instead of the system's (``ca_file``), if any."""
    value = settings.values.get("ca_file")
    return str(value) if value else None


def tls_problem(settings: Settings) -> str | None:
    """Why the channel's TLS settings cannot work, or ``None``."""
    verify = settings.values.get("verify_tls", True)
    if not isinstance(verify, bool):
        return f"settings.verify_tls must be true or false, not {verify!r}"
    path = settings.values.get("ca_file")
    if path is None:
        return None
    if not isinstance(path, str) or not path:
        return "settings.ca_file must be the path of a PEM file of trusted certificates"
    if not Path(path).is_file():
        return f"settings.ca_file: no such file: {path}"
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"settings.ca_file: {path} holds no certificate OpenSSL can read ({exc})"
    return None


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client context as the channel's settings ask: the system's CAs, ``ca_file``'s, or
    (``verify_tls: false``) none checked."""
    context = ssl.create_default_context(cafile=ca_file(settings))
    if verification_off(settings):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def requests_verify(settings: Settings) -> str | bool:
    """The same choice as ``requests`` takes it (a CA bundle path, or whether to verify)."""
    if verification_off(settings):
        return False
    return ca_file(settings) or True


def tls_failure(exc: BaseException) -> str | None:
    """If ``exc`` (or anything it wraps) is a TLS failure that retrying cannot cure, what it
    is, in words; else ``None``."""
    for inner in _chain(exc):
        if isinstance(inner, ssl.SSLCertVerificationError):
            said = inner.verify_message or inner.reason or "verification failed"
            return (f"the server's certificate is not trusted: {said} (settings.ca_file names "
                    "a CA to trust)")
        if isinstance(inner, ssl.SSLError) and (inner.reason or "") in FINAL_REASONS:
            hint = (": is this a plain-text port? check the URL's scheme and the ssl, "
                    "starttls and port settings"
                    if inner.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE",
                                        "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL") else "")
            return f"TLS handshake failed ({inner.reason}){hint}"
    return None


def connection_error(where: str, exc: BaseException, detail: str) -> ChannelError:
    """What a failed connection means for us: final (:class:`NotConfigured`) when it is a TLS
    failure retrying cannot cure, else worth retrying; ``detail`` says what happened."""
    reason = tls_failure(exc)
    if reason is not None:
        return NotConfigured(f"{where}: {reason}")
    return TransientError(f"{where}: {detail}")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, and exceptions held in its
    arguments or its ``reason`` (how urllib3 and requests nest them)."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None),
                   *getattr(current, "args", ())]
        pending.extend(item for item in wrapped if isinstance(item, BaseException))
