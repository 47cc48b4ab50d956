"""The channel protocol: what every adapter, live or simulated, offers the runner.

An adapter sends one message at a time and polls for whatever came back since a cursor. It
knows nothing of the store or the report; it raises only the errors in ``harness.errors``
(``RateLimited``, ``AccessDenied``, ``AuthenticationFailed``, ``TransientError``,
``NotConfigured``) and never sleeps or retries on its own: the runner owns backoff.

Adapters declare their facts on the class (name, platform, the settings they take), so the
registry, validation, CLI help, the docs and secret masking all read the same declarations.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from harness.channels.settings import (
    DEFAULT_TIMEOUT,
    TIMEOUT,
    PerPersona,
    Setting,
    SettingProblem,
    Settings,
    Table,
    masked,
    missing_env,
    required_names,
    secret_names,
    settings_problems,
)
from harness.channels.tls import TLS_SETTINGS, tls_problem
from harness.clock import Clock
from harness.platforms import SEND_MODES, ReplyKind, SendMode
from harness.scenario.model import Brand, Channel, Persona

CONNECTION_SETTINGS: tuple[Setting, ...] = (TIMEOUT, *TLS_SETTINGS)
"""The settings every adapter that ``connects`` takes (append them to its ``settings_spec``)."""


class OutgoingMessage(NamedTuple):
    """One message to post: the first message of a probe (step 0) or a follow-up."""

    probe_id: str
    step: int
    persona_id: str
    persona_account: str
    brand_id: str
    brand_handles: tuple[str, ...]
    mention: str
    category: str
    text: str
    in_reply_to: str | None = None
    not_before: datetime | None = None
    """The post cannot be older than this (its scheduled time): lets :meth:`find_post` tell
    it from an earlier probe with the same text."""


class SentPost(NamedTuple):
    """What the platform says about a post it accepted; ``created_at`` is its own clock."""

    platform_id: str
    created_at: datetime
    url: str | None = None


class IncomingReply(NamedTuple):
    """Something that came back: a reply, a direct message, an email."""

    platform_id: str
    created_at: datetime
    author: str
    kind: ReplyKind
    text: str
    in_reply_to: str | None = None
    conversation_id: str | None = None
    to_account: str | None = None
    automated: bool = False
    raw: Mapping[str, Any] = MappingProxyType({})


class PollResult(NamedTuple):
    """Replies seen since the previous cursor, and the cursor to pass next time."""

    replies: Sequence[IncomingReply]
    cursor: str | None
    as_of: datetime | None = None
    """The platform's own time the read covers up to, where it says (a probe closes only
    once a read covers the end of its window by the platform's clock, not only by ours)."""


@dataclass(frozen=True)
class ChannelContext:
    """What an adapter may know about the scenario it serves."""

    clock: Clock
    state_dir: Path
    seed: int
    personas: Sequence[Persona]
    brands: Sequence[Brand]
    timezone: str
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    """Where secrets are read from (the process environment; tests pass their own)."""


class ChannelAdapter(ABC):
    """Base class of every channel adapter."""

    name: ClassVar[str]
    """Registry name, used as ``adapter:`` in scenarios."""
    platform: ClassVar[str]
    """Default platform whose limits apply (a key of ``harness.platforms.PLATFORMS``)."""
    settings_spec: ClassVar[tuple[Setting, ...] | None] = None
    """The settings the adapter takes (see :class:`~harness.channels.settings.Setting`):
    ``secret_settings`` and ``required_settings`` follow from it, and so do the missing-setting
    reasons of :meth:`not_configured`, :meth:`check_settings` and the docs. ``None``: the
    adapter declares none (any settings are taken, unchecked)."""
    secret_settings: ClassVar[frozenset[str]] = frozenset()
    """Settings that hold secrets: they must be ``{env: NAME}`` and are masked when shown
    (derived from ``settings_spec`` where the adapter declares one)."""
    summary: ClassVar[str] = ""
    """One line for ``shopper channels``."""
    knows_future: ClassVar[bool] = False
    """Whether :meth:`next_activity` can tell when replies will arrive (simulations only)."""
    modes: ClassVar[frozenset[SendMode]] = frozenset(SEND_MODES)
    """Send modes the adapter supports (``assisted`` needs :meth:`find_post`)."""
    default_mode: ClassVar[SendMode] = "auto"
    """The mode of a channel whose scenario does not say."""
    required_settings: ClassVar[tuple[str, ...]] = ()
    """Settings without which the adapter cannot work (checked by :meth:`not_configured`;
    derived from ``settings_spec`` where the adapter declares one)."""
    connects: ClassVar[bool] = False
    """Whether the adapter connects to a server (and so takes the TLS settings
    ``ca_file`` and ``verify_tls``, see :mod:`harness.channels.tls`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("settings_spec")
        if spec is not None:
            if "secret_settings" not in cls.__dict__:
                cls.secret_settings = secret_names(spec)
            if "required_settings" not in cls.__dict__:
                cls.required_settings = required_names(spec)

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any], *,
                       personas: Collection[str] | None = None,
                       missing: bool = True) -> list[SettingProblem]:
        """What is wrong with a channel's ``settings`` for this adapter (see
        :func:`~harness.channels.settings.settings_problems`)."""
        return settings_problems(cls.settings_spec, settings, personas=personas,
                                 missing=missing)

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        self.config = config
        self.context = context
        self.settings = Settings(config.id, config.settings, context.environ)
        self.accounts: dict[str, str] = {p.id: p.accounts.get(config.id, "")
                                         for p in context.personas}
        """Each persona's account on this channel ("" if it has none)."""

    @property
    def timeout_s(self) -> float:
        """Seconds any one request to the platform may take (setting ``timeout``, default
        30 s): a hung connection must not stall the run."""
        return self.settings.duration("timeout", DEFAULT_TIMEOUT).total_seconds()

    def channel_personas(self) -> list[str]:
        """Ids of the personas who post on this channel: allowed on it, with an account."""
        chosen = self.config.personas
        return [p for p, account in self.accounts.items()
                if account and (chosen == "all" or p in chosen)]

    def personas_shown(self) -> str:
        """The channel's personas with their accounts, for messages: ``ana (@ana_x)``."""
        return ", ".join(f"{p} ({self.accounts[p]})" for p in self.channel_personas()
                         ) or "no persona"

    def missing_per_persona(self, key: str, what: str) -> str | None:
        """Why ``settings[key]`` (a table by persona id, e.g. tokens) does not cover every
        persona of the channel, or ``None`` if it does."""
        table = self.config.settings.get(key)
        if not isinstance(table, dict):
            return f"settings.{key} must map each persona to its {what}"
        missing = sorted(p for p in self.channel_personas() if p not in table)
        return (f"no {what} for persona {', '.join(missing)} (settings.{key})" if missing
                else None)

    def not_configured(self) -> str | None:
        """Why this channel cannot be used as configured, or ``None`` if it can. Looks only at
        settings and the environment; never calls the platform. In this order: missing
        settings (:meth:`missing_settings`), the adapter's own :meth:`settings_problem`, each
        persona's credentials (:meth:`missing_credentials`)."""
        return self.missing_settings() or self.settings_problem() or self.missing_credentials()

    def missing_settings(self) -> str | None:
        """The first of: required settings absent, environment variables the settings name
        that are not set, TLS settings that cannot work (adapters that connect), required
        fields of a table setting absent (``settings.smtp.host``)."""
        absent = [key for key in self.required_settings if key not in self.config.settings]
        if absent:
            return f"settings {', '.join(absent)} required"
        unset = missing_env(self.config.settings, self.context.environ)
        if unset:
            return f"environment variable{'s' * (len(unset) > 1)} {', '.join(unset)} not set"
        problem = tls_problem(self.settings) if self.connects else None
        if problem:
            return problem
        for setting in self.settings_spec or ():
            if isinstance(setting.type, Table) and setting.name in self.config.settings:
                table = self.config.settings[setting.name]
                for entry in setting.type.fields:
                    if entry.required and (not isinstance(table, dict)
                                           or not table.get(entry.name)):
                        return f"settings.{setting.name}.{entry.name} is required"
        return None

    def settings_problem(self) -> str | None:
        """Why settings that are there cannot work, in the platform's own terms (a server
        that is no URL), or ``None``: the hook for each adapter's own checks."""
        return None

    def missing_credentials(self) -> str | None:
        """Why a required per-persona setting (credentials) does not cover every persona of
        the channel, or ``None`` if each does."""
        for setting in self.settings_spec or ():
            if setting.required and isinstance(setting.type, PerPersona):
                problem = self.missing_per_persona(setting.name, setting.type.what)
                if problem:
                    return problem
        return None

    def check_access(self) -> str:
        """Connect and log in as each persona of the channel, read-only (nothing posted,
        nothing marked read), and say what was checked; raise the channel's errors when that
        fails. The live preflight calls it before asking to start. Channels with no server
        have nothing to check."""
        return "nothing to connect to"

    @abstractmethod
    def send(self, message: OutgoingMessage) -> SentPost:
        """Post ``message``; return the platform's id and timestamp for it."""

    @abstractmethod
    def poll(self, cursor: str | None) -> PollResult:
        """Everything addressed to our personas since ``cursor``, oldest first."""

    def planned_id(self, message: OutgoingMessage) -> str | None:
        """The id a post of ``message`` will carry, where the adapter fixes it before calling
        the platform (email's Message-ID), else ``None``. The runner stores it with the
        intent, so a reply threading to a post whose outcome a crash left unknown is credited
        to that post, and proves it went out."""
        return None

    @property
    def plans_ids(self) -> bool:
        """Whether :meth:`planned_id` can say anything for this channel (asked per send)."""
        return type(self).planned_id is not ChannelAdapter.planned_id

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        """Look for ``message`` among what the persona posted (to settle a send a crash
        interrupted). ``None`` means the platform says it was never posted."""
        raise NotImplementedError

    @property
    def can_find_posts(self) -> bool:
        """Whether :meth:`find_post` gives an authoritative answer for this channel."""
        return type(self).find_post is not ChannelAdapter.find_post

    def next_activity(self, cursor: str | None) -> datetime | None:
        """For adapters that ``knows_future``: when the next thing after ``cursor`` becomes
        visible to :meth:`poll` (``None``: nothing is coming). Lets a virtual clock skip polls
        that would find nothing. Live adapters cannot know and are never asked."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Settings for display: environment references by name and whether they are set,
        anything under a secret setting masked."""
        shown: dict[str, Any] = masked(dict(self.config.settings), self.context.environ,
                                       self.secret_settings)
        return shown

    def usage_estimate(self, posts: int, polls: int) -> dict[str, Any]:
        """What a run of ``posts`` posts and ``polls`` polls will ask of the platform, for
        platforms that bill or limit by use (shown before a live run starts)."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections and files."""
