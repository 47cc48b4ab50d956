"""One send attempt: call the adapter and turn whatever happens into the attempt's outcome.

Adapter errors map to outcomes the runner knows how to handle: rate limits block the channel
until their reset time; a channel that is not configured as it works (rejected credentials, an
untrusted certificate, a server that does not speak TLS where it should) stops at once, its
message to be tried again by the run that follows the fix; a permission refused for one message
is final for it; transient failures (and adapter bugs) are retried with exponential backoff up
to ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from harness.channels.base import ChannelAdapter, OutgoingMessage
from harness.errors import (
    AccessDenied,
    AuthenticationFailed,
    AwaitingPerson,
    ChannelError,
    Declined,
    NotConfigured,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)
from harness.store.records import (
    CHANNEL_FAILURES,
    STOPS_CHANNEL,
    USES_AN_ATTEMPT,
    Reason,
    SendRecord,
    SendState,
)

NotAttempted = Literal["channel_stopped", "channel_rate_limited", "stopping"]
_NOT_ATTEMPTED: dict[NotAttempted, str] = {
    "channel_stopped": "not attempted: channel stopped",
    "channel_rate_limited": "not attempted: channel rate-limited",
    "stopping": "not attempted: the run was asked to stop; the next run sends it",
}

MAX_ATTEMPTS = 10
"""Failed attempts (transient errors, adapter bugs) after which a message is given up on:
with the backoff, a platform may be down for about four hours without losing a message."""
AWAITING = "awaiting the persona's post"
"""How an attempt that found no post by hand yet (assisted and manual modes) starts its
error (for people to read: the runner goes by ``reason``)."""
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)


STOPPING_ERRORS = (AuthenticationFailed, NotConfigured)
"""Errors that are the same on every try until a person fixes the channel: the runner stops
the channel at once, with the reason, instead of retrying."""


def is_channel_failure(outcome: SendRecord) -> bool:
    """Whether a failed attempt counts against the channel's health (a platform or adapter
    failure; not a person who has yet to post, a declined post, or a cap)."""
    return outcome.state != "sent" and outcome.reason in CHANNEL_FAILURES


def stops_channel(outcome: SendRecord) -> bool:
    """Whether the attempt failed in a way that stops its channel (see ``STOPS_CHANNEL``)."""
    return outcome.state != "sent" and outcome.reason in STOPS_CHANNEL


def backoff(attempt: int) -> timedelta:
    """How long to wait after the ``attempt``-th failure (1, 2, 4... minutes, at most 1 h)."""
    delay: timedelta = FIRST_BACKOFF * 2 ** (attempt - 1)
    return min(delay, MAX_BACKOFF)


def retry_at(failures: int, now: datetime) -> datetime | None:
    """When to try again after the ``failures``-th failure of a message (rate limits not
    counted), or None when it was the last one allowed."""
    return now + backoff(failures) if failures < MAX_ATTEMPTS else None


def counts_as_failure(outcome: SendRecord) -> bool:
    """Whether an attempt's outcome uses up one of the message's ``MAX_ATTEMPTS``: a
    transient failure or an adapter bug does; a rate limit, a person yet to post, a cap or a
    decline does not."""
    return outcome.state != "sent" and outcome.reason in USES_AN_ATTEMPT


def attempt(adapter: ChannelAdapter, message: OutgoingMessage, record: SendRecord,
            now: datetime, failures: int = 0) -> tuple[SendRecord, datetime | None]:
    """Make the attempt ``record`` describes (after ``failures`` failed ones that count).
    Returns its outcome and, if the platform rate limited us, until when the channel is
    blocked."""
    try:
        if record.attempt > 1 and adapter.can_find_posts:
            found = adapter.find_post(message)  # did an earlier attempt post after all?
            if found is not None:
                return sent(record, found.platform_id, found.created_at), None
        post = adapter.send(message)
    except RateLimited as exc:
        blocked_until = exc.reset_at or now + backoff(record.attempt - failures)
        return failed(record, "rate_limited", f"rate limited: {exc}", blocked_until), blocked_until
    except OutcomeUnknown as exc:  # never resent: a reply to it, or the operator, settles it
        return SendRecord(record.probe_id, record.step, record.attempt, "uncertain",
                          record.intended_at, exc.created_at, exc.platform_id,
                          record.in_reply_to, record.text, f"outcome unknown: {exc}",
                          None, "outcome_unknown"), None
    except AwaitingPerson as exc:  # not an attempt that failed: look again later
        return failed(record, "awaiting_person", f"{AWAITING}: {exc}", exc.check_at,
                      "not_sent"), None
    except Declined as exc:
        return failed(record, "declined", f"declined: {exc}", None, "not_sent"), None
    except AuthenticationFailed as exc:  # nothing reached the platform: retry after the fix
        return failed(record, "authentication_failed", f"{type(exc).__name__}: {exc}",
                      now), None
    except NotConfigured as exc:
        return failed(record, "not_configured", f"{type(exc).__name__}: {exc}", now), None
    except AccessDenied as exc:
        return failed(record, "access_denied", f"{type(exc).__name__}: {exc}", None), None
    except TransientError as exc:
        return failed(record, "transient", f"transient: {exc}",
                      retry_at(failures + 1, now)), None
    except Exception as exc:  # an adapter bug must not stop the race: retry, then give up
        return failed(record, "adapter_bug", f"unexpected {type(exc).__name__}: {exc}",
                      retry_at(failures + 1, now)), None
    return sent(record, post.platform_id, post.created_at), None


def sent(record: SendRecord, platform_id: str, created_at: datetime) -> SendRecord:
    """The attempt, as posted."""
    # Built field by field: dataclasses.replace is slow on the hot path of a large run.
    return SendRecord(record.probe_id, record.step, record.attempt, "sent", record.intended_at,
                      created_at, platform_id, record.in_reply_to, record.text, None, None)


def failed(record: SendRecord, reason: Reason, error: str, retry: datetime | None,
           state: SendState = "failed") -> SendRecord:
    """The attempt, as failed for ``reason`` (to be retried from ``retry``, if given);
    ``error`` says it in words."""
    return SendRecord(record.probe_id, record.step, record.attempt, state, record.intended_at,
                      record.sent_at, record.platform_id, record.in_reply_to, record.text,
                      error, retry, reason)


def not_attempted(record: SendRecord, reason: NotAttempted,
                  retry: datetime | None) -> SendRecord:
    """The attempt, not handed to its channel: stopped, or rate limited, earlier in the same
    batch, or the run asked to stop (to be tried from ``retry``)."""
    return failed(record, reason, _NOT_ATTEMPTED[reason], retry, "not_sent")


def capped(record: SendRecord, why: str) -> SendRecord:
    """The attempt, refused because a live run's cap would be passed (``why`` says which)."""
    return failed(record, "capped", why, None, "not_sent")


def resolved(record: SendRecord, posted: tuple[str, datetime] | None,
             now: datetime) -> SendRecord:
    """An uncertain attempt as the operator settled it: posted (``posted``: its platform id and
    time), or not posted, to be sent again from ``now``."""
    if posted is None:
        return failed(record, "operator", "resolved by the operator: not posted", now,
                      "not_sent")
    return sent(record, *posted)._replace(error="resolved by the operator: posted",
                                          reason="operator")


def settle(adapter: ChannelAdapter, message: OutgoingMessage, record: SendRecord,
           now: datetime) -> SendRecord:
    """The outcome of an attempt a crash left 'intended': posted (the platform shows the
    post), not sent (the platform says it never came; retry from ``now``), or uncertain (the
    platform cannot say: never resent, left to the operator). Raises the errors that stop
    a channel (``STOPPING_ERRORS``), leaving the intent for a later run to settle."""
    if not adapter.can_find_posts:
        return failed(record, "interrupted", "interrupted; the platform cannot say if it "
                      "posted", None, "uncertain")
    try:
        post = adapter.find_post(message)
    except STOPPING_ERRORS:
        raise  # the channel cannot say yet: the intent waits for the run after the fix
    except ChannelError as exc:
        return failed(record, "interrupted", f"interrupted; lookup failed: {exc}", None,
                      "uncertain")
    if post is None:
        return failed(record, "interrupted", "interrupted before posting", now, "not_sent")
    return sent(record, post.platform_id, post.created_at)
