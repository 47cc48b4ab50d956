"""The email channel's SMTP side: sessions, the dialogue that hands a message over, and
SMTP failures as the project's errors.

Rejected logins are ``AuthenticationFailed``; 5xx refusals ``AccessDenied``; 4xx answers that
say "too many" or "rate" (421 4.7.0) ``RateLimited``, with a reset time only when the server
says when ("try again in 15 minutes"); anything else temporary, timeouts and dropped
connections ``TransientError``. Passwords never appear in errors. A connection that ends after
the message was sent but before the server's answer is ``OutcomeUnknown``: the server may have
taken it.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage

from harness.channels.mail import RATE, Server, as_text, no_greeting, reset_time, scrubbed
from harness.channels.tls import tls_failure
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    ChannelError,
    NotConfigured,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)


def smtp_session(server: Server, helo: str, timeout: float) -> smtplib.SMTP:
    """A connected SMTP session, secured as ``server`` says (implicit TLS or STARTTLS)."""
    if server.ssl:
        return smtplib.SMTP_SSL(server.host, server.port, local_hostname=helo, timeout=timeout,
                                context=server.context)
    try:
        smtp = smtplib.SMTP(server.host, server.port, local_hostname=helo, timeout=timeout)
    except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
        raise no_greeting(server, "SMTP") or exc from None
    if server.starttls:
        try:
            smtp.starttls(context=server.context)
        except BaseException:
            smtp.close()
            raise
    return smtp


def quit_quietly(smtp: smtplib.SMTP) -> None:
    """End the session; a message already accepted stays sent whatever QUIT answers."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def smtp_error(exc: Exception, server: Server, now: datetime, password: str) -> ChannelError:
    """The project's error for an SMTP failure."""
    where = f"SMTP {server}"
    code: int | None = None
    text = ""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = list(exc.recipients.values())
        if refusals:
            code, reply = refusals[0]
            text = as_text(reply)
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, as_text(exc.smtp_error)
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        return NotConfigured(f"{where}: {scrubbed(str(exc), password)} (check settings.smtp "
                             "starttls and ssl)")
    elif (reason := tls_failure(exc)) is not None:
        return NotConfigured(f"{where}: {reason}")
    text = scrubbed(text or str(exc) or type(exc).__name__, password)
    if code is None:
        return TransientError(f"{where}: {type(exc).__name__}: {text}")
    detail = f"{where}: {code} {text}"
    if 400 <= code < 500:  # temporary, even "454 4.7.0 temporary authentication failure"
        if RATE.search(text):
            return RateLimited(detail, reset_time(text, now))
        return TransientError(detail)
    if isinstance(exc, smtplib.SMTPAuthenticationError) or code in (530, 534, 535, 538):
        return AuthenticationFailed(detail)
    if 500 <= code < 600:
        return AccessDenied(detail)
    return TransientError(detail)


def check_auth_methods(smtp: smtplib.SMTP, server: Server) -> None:
    """Refuse, before sending the password, a server whose AUTH offers no method smtplib
    speaks (smtplib would say so only in words)."""
    offered = set(smtp.esmtp_features.get("auth", "").upper().split())
    if smtp.has_extn("auth") and not offered & {"CRAM-MD5", "PLAIN", "LOGIN"}:
        raise AuthenticationFailed(f"SMTP {server}: no authentication method both sides "
                                   f"speak (the server offers {' '.join(sorted(offered))})")


@contextmanager
def logged_in(server: Server, helo: str, timeout: float, username: str, password: str,
              now: Callable[[], datetime]) -> Iterator[smtplib.SMTP]:
    """An SMTP session, logged in, ended (QUIT) when done; every SMTP failure in it is the
    project's error (:func:`smtp_error`, timed by ``now``)."""
    smtp: smtplib.SMTP | None = None
    try:
        smtp = smtp_session(server, helo, timeout)
        check_auth_methods(smtp, server)
        smtp.login(username, password)
        yield smtp
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        raise smtp_error(exc, server, now(), password) from None
    finally:
        if smtp is not None:
            quit_quietly(smtp)


def deliver(smtp: smtplib.SMTP, sender: str, recipient: str, mail: EmailMessage,
            created: datetime) -> None:
    """Hand ``mail`` over: MAIL, RCPT, DATA, the message (dot-stuffed), the server's answer.
    A connection lost after the message went but before the answer is ``OutcomeUnknown``
    (``created``: the message's time), never worth sending again."""
    code, answer = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, answer, sender)
    code, answer = smtp.rcpt(recipient)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})
    code, answer = smtp.docmd("DATA")  # a drop here: nothing was delivered
    if code != 354:
        raise smtplib.SMTPDataError(code, answer)
    content = mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))
    content = re.sub(rb"(?m)^\.", b"..", content)  # dot-stuffing (RFC 5321 4.5.2)
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    try:
        smtp.send(content + b".\r\n")
        code, answer = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        # The message may have been taken before the answer was lost: sending it
        # again could deliver it twice. A reply to it, or the operator, settles it.
        raise OutcomeUnknown(
            f"email: the connection ended after the message was sent "
            f"({type(exc).__name__}); the server may have taken it",
            str(mail["Message-ID"]), created) from None
    if code != 250:
        raise smtplib.SMTPDataError(code, answer)
