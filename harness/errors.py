"""The harness's own exceptions.

Every error a user can cause is a :class:`HarnessError`; the CLI prints its message and exits
with its ``exit_code`` instead of showing a traceback::

    HarnessError                    exit 2 unless stated
    ├── ScenarioError               a scenario file has one or more problems (all of them listed)
    ├── UsageError                  a command was called in a way that cannot work
    ├── RunFolderError              a run folder is missing, locked, or holds another scenario
    └── ChannelError                raised by channel adapters; the runner handles these
        ├── NotConfigured           the adapter lacks settings or credentials
        ├── RateLimited             slow down; ``reset_at`` says when to try again, if known
        ├── AccessDenied            the platform refused this action (HTTP 403 and the like)
        ├── AuthenticationFailed    credentials were rejected (HTTP 401)
        ├── TransientError          try again later (5xx, timeouts, dropped connections)
        ├── OutcomeUnknown          the platform may or may not have taken the post
        ├── AwaitingPerson          a person has yet to post it (assisted and manual channels)
        └── Declined                the operator declined a post (confirm mode)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class HarnessError(Exception):
    """Base of every error the user can cause or must act on."""

    exit_code = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in an input file, pinned to where it is."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(HarnessError):
    """A scenario could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(HarnessError):
    """A command was called in a way that cannot work."""


class RunFolderError(HarnessError):
    """A run folder cannot be used as asked."""


class ChannelError(HarnessError):
    """Base of the errors channel adapters raise."""


class NotConfigured(ChannelError):
    """The adapter is missing settings or credentials; the message says which."""


class RateLimited(ChannelError):
    """The platform asked us to slow down."""

    def __init__(self, message: str, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class AccessDenied(ChannelError):
    """The platform refused the action for this account."""


class AuthenticationFailed(ChannelError):
    """The platform rejected the credentials."""


class TransientError(ChannelError):
    """A failure worth retrying later."""


class AwaitingPerson(ChannelError):
    """The post is a person's to make and is not on the platform yet; look again at
    ``check_at``."""

    def __init__(self, message: str, check_at: datetime) -> None:
        super().__init__(message)
        self.check_at = check_at


class Declined(ChannelError):
    """The operator declined to post the message: final, never retried."""


class OutcomeUnknown(ChannelError):
    """The request may have reached the platform and the answer was lost (e.g. an SMTP
    server's reply after DATA). Never retried: the send is uncertain until a reply to it, or
    the operator, settles it. ``platform_id``/``created_at``: what the post is if it went."""

    def __init__(self, message: str, platform_id: str | None = None,
                 created_at: datetime | None = None) -> None:
        super().__init__(message)
        self.platform_id = platform_id
        self.created_at = created_at
