"""Adapters' settings declarations: what follows from them (secret and required settings, the
missing-setting reasons of ``not_configured``), the check of a channel's settings, the table."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.channels.base import (
    CONNECTION_SETTINGS,
    ChannelAdapter,
    ChannelContext,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.channels.docs import settings_table
from harness.channels.registry import get_adapter
from harness.channels.settings import (
    BOOLEAN,
    DEFAULT_TIMEOUT,
    TEXT,
    TIMEOUT,
    Described,
    PerPersona,
    Setting,
    SettingProblem,
    Table,
    settings_problems,
)
from harness.channels.tls import TLS_SETTINGS
from harness.clock import VirtualClock
from harness.durations import parse_duration
from harness.scenario.model import Channel, Persona

BUILTIN = ("simulated", "x", "mastodon", "bluesky", "email", "manual")
LIVE = ("x", "mastodon", "bluesky", "email")
PERSONAS = {"ana", "ben"}


def _kit_settings(name: str) -> dict[str, Any]:
    module = importlib.import_module(f"tests.fakes.fake_{name}")
    settings: dict[str, Any] = module.kit().settings
    return settings


def _problems(name: str, settings: dict[str, Any], **options: Any) -> list[SettingProblem]:
    return get_adapter(name).check_settings(settings, **options)


@pytest.mark.parametrize(("name", "secret", "required"), [
    ("x", {"consumer_key", "consumer_secret", "tokens"},
     ("consumer_key", "consumer_secret", "tokens")),
    ("mastodon", {"tokens"}, ("instance", "tokens")),
    ("bluesky", {"passwords"}, ("passwords",)),
    ("email", {"passwords"}, ("smtp", "imap", "passwords")),
    ("manual", set(), ()),
    ("simulated", set(), ()),
])
def test_secret_and_required_settings_follow_from_the_declarations(
        name: str, secret: set[str], required: tuple[str, ...]) -> None:
    adapter = get_adapter(name)
    assert adapter.secret_settings == frozenset(secret)
    assert adapter.required_settings == required


@pytest.mark.parametrize("name", BUILTIN)
def test_adapters_that_connect_take_the_connection_settings(name: str) -> None:
    adapter = get_adapter(name)
    names = [s.name for s in adapter.settings_spec or ()]
    assert len(names) == len(set(names)), "a setting declared twice"
    connection = [s.name for s in CONNECTION_SETTINGS]
    assert (names[-len(connection):] == connection) is adapter.connects
    assert all(setting.help and setting.help == setting.help.strip()
               for setting in adapter.settings_spec or ())


def test_declared_defaults_are_the_ones_the_code_uses() -> None:
    from harness.channels import bluesky, mastodon, x

    assert parse_duration(TIMEOUT.default) == DEFAULT_TIMEOUT
    spec = {s.name: s for s in x.XChannel.settings_spec or ()}
    assert parse_duration(spec["dm_poll_every"].default) == x.DM_POLL_EVERY
    spec = {s.name: s for s in mastodon.MastodonChannel.settings_spec or ()}
    assert parse_duration(spec["dm_poll_every"].default) == mastodon.DM_POLL_EVERY
    assert spec["visibility"].default in mastodon.VISIBILITIES
    spec = {s.name: s for s in bluesky.BlueskyChannel.settings_spec or ()}
    assert spec["service"].default == bluesky.DEFAULT_SERVICE


@pytest.mark.parametrize("name", LIVE)
def test_the_fakes_settings_are_fine(name: str) -> None:
    assert _problems(name, _kit_settings(name), personas=PERSONAS) == []


def test_an_unknown_setting_is_named_with_the_closest_known_one() -> None:
    settings = {**_kit_settings("mastodon"), "visiblity": "public", "zzz": 1}
    assert _problems("mastodon", settings) == [
        SettingProblem(("visiblity",), "unknown setting 'visiblity' (did you mean "
                                       "'visibility'?)", at_key=True),
        SettingProblem(("zzz",), "unknown setting 'zzz' (expected one of: instance, tokens, "
                                 "visibility, dm_poll_every, timeout, ca_file, verify_tls)",
                       at_key=True)]


def test_unknown_fields_of_a_table_setting() -> None:
    settings = _kit_settings("email")
    settings["smtp"] = {**settings["smtp"], "hots": "mail.example.org"}
    assert _problems("email", settings) == [SettingProblem(
        ("smtp", "hots"), "unknown setting 'hots' (did you mean 'host'?)", at_key=True)]


def test_manual_takes_no_settings_and_simulated_takes_any() -> None:
    assert _problems("manual", {"timeout": "5s"}) == [SettingProblem(
        ("timeout",), "unknown setting 'timeout' (this adapter takes no settings)",
        at_key=True)]
    assert _problems("manual", {}) == []
    assert _problems("simulated", {"imap_password": {"env": "X"}, "anything": [1]}) == []


@pytest.mark.parametrize(("name", "change", "path", "message"), [
    ("x", {"read_dms": "yes"}, ("read_dms",), "must be true or false, not 'yes'"),
    ("x", {"read_dms": {"env": "READ_DMS"}}, ("read_dms",), "must be true or false, not a table"),
    ("x", {"dm_poll_every": "often"}, ("dm_poll_every",), "must be duration, not 'often'"),
    ("x", {"dm_poll_every": 15}, ("dm_poll_every",), "must be duration, not 15"),
    ("x", {"price_per_post_read": "cheap"}, ("price_per_post_read",),
     "must be number, not 'cheap'"),
    ("x", {"price_per_post_read": True}, ("price_per_post_read",),
     "must be number, not true"),
    ("x", {"api_base": None}, ("api_base",), "must be URL, not null"),
    ("mastodon", {"instance": "mastodon.social"}, ("instance",),
     "must be URL, not 'mastodon.social'"),
    ("bluesky", {"service": "ftp://bsky.social"}, ("service",),
     "must be URL, not 'ftp://bsky.social'"),
    ("x", {"api_base": "https://"}, ("api_base",), "must be URL, not 'https://'"),
    ("x", {"user_ids": {"ana": [1]}}, ("user_ids", "ana"), "must be id, not a list"),
    ("x", {"user_ids": ["1"]}, ("user_ids",), "must map each persona to its user id, not a list"),
    ("mastodon", {"visibility": "publik"}, ("visibility",),
     "must be one of public, unlisted, private, direct, not 'publik' (did you mean 'public'?)"),
    ("mastodon", {"verify_tls": "no"}, ("verify_tls",), "must be true or false, not 'no'"),
    ("email", {"smtp": {"host": "h", "port": "x"}}, ("smtp", "port"),
     "must be integer, not 'x'"),
    ("email", {"imap": "imap.example.org"}, ("imap",),
     "must be a table of host, port, ssl, starttls, mailbox, not 'imap.example.org'"),
    ("email", {"plus_tag": 1}, ("plus_tag",), "must be true or false, not 1"),
])
def test_a_value_of_the_wrong_type(name: str, change: dict[str, Any], path: tuple[str, ...],
                                   message: str) -> None:
    assert _problems(name, {**_kit_settings(name), **change}) == [SettingProblem(path, message)]


def test_environment_references_stand_for_text() -> None:
    settings = {**_kit_settings("mastodon"), "instance": {"env": "MASTODON_URL"},
                "visibility": {"env": "VISIBILITY"}}
    assert _problems("mastodon", settings) == []


def test_secrets_are_never_repeated_in_a_problem() -> None:
    settings = {**_kit_settings("x"), "tokens": "tok-s3cr3t"}
    problems = _problems("x", settings)
    assert problems == [SettingProblem(("tokens",), "must map each persona to its access "
                                                    "tokens, not text")]
    assert _problems("bluesky", {"passwords": 123456}) == [SettingProblem(
        ("passwords",), "must map each persona to its app password, not a number")]


def test_inline_secrets_are_left_to_the_scenario_s_own_check() -> None:
    # validation refuses any secret not written {env: NAME}, for every adapter alike
    settings = {**_kit_settings("x"), "consumer_key": 12345,
                "tokens": {"ana": {"access_token": "inline", "access_token_secret": 7}}}
    assert _problems("x", settings) == []


def test_missing_required_settings() -> None:
    assert _problems("x", {}) == [
        SettingProblem(("consumer_key",), "required setting is missing: the app's API key"),
        SettingProblem(("consumer_secret",),
                       "required setting is missing: the app's API key secret"),
        SettingProblem(("tokens",),
                       "required setting is missing: each persona's OAuth 1.0a user tokens")]
    assert _problems("x", {}, missing=False) == []
    tokens = {"ana": {"access_token": {"env": "T"}}}
    assert _problems("x", {**_kit_settings("x"), "tokens": tokens}) == [SettingProblem(
        ("tokens", "ana", "access_token_secret"), "required setting is missing: its secret")]
    settings = _kit_settings("email")
    settings["smtp"] = {"port": 25}
    assert _problems("email", settings) == [SettingProblem(
        ("smtp", "host"), "required setting is missing: the SMTP server's host name")]


def test_per_persona_settings_name_only_personas_when_told_them() -> None:
    settings = {**_kit_settings("mastodon"), "tokens": {"anna": {"env": "T"}, "ben": {"env": "U"}}}
    assert _problems("mastodon", settings) == []
    assert _problems("mastodon", settings, personas=PERSONAS) == [SettingProblem(
        ("tokens", "anna"), "unknown persona 'anna' (did you mean 'ana'?)", at_key=True)]
    assert settings_problems(None, settings, personas=PERSONAS) == []


def test_the_table_lists_every_setting_and_field() -> None:
    spec = (
        Setting("server", Table((Setting("host", TEXT, "its host", required=True),
                                 Setting("tls", BOOLEAN, "a | b", default=False))),
                "the server", required=True),
        Setting("keys", PerPersona(Table((Setting("key", TEXT, "one key", secret=True),)),
                                   "keys"), "each persona's keys", secret=True),
        Setting("mode", TEXT, "how", default=Described("`a` unless `b`")),
        Setting("wait", TEXT, "how long", default="15m"),
    )
    assert settings_table(spec).splitlines() == [
        "| setting | type | required | default | secret | what it is |",
        "|---|---|---|---|---|---|",
        "| `server` | table | yes |  |  | the server |",
        "| `server.host` | text | yes |  |  | its host |",
        "| `server.tls` | true or false |  | `false` |  | a \\| b |",
        "| `keys` | persona → table |  |  | yes | each persona's keys |",
        "| `keys.<persona>.key` | text |  |  | yes | one key |",
        "| `mode` | text |  | `a` unless `b` |  | how |",
        "| `wait` | text |  | `15m` |  | how long |",
    ]
    assert settings_table(()) == "No settings.\n"
    assert settings_table(None) == "Takes any settings, and reads none.\n"


# -- what an adapter declaring its settings gets ------------------------------------------


class Declared(ChannelAdapter):
    name = "declared"
    platform = "other"
    settings_spec = (
        Setting("server", Table((Setting("host", TEXT, "its host", required=True),)),
                "the server", required=True),
        Setting("keys", PerPersona(TEXT, "key"), "each persona's key", required=True,
                secret=True),
        Setting("names", PerPersona(TEXT, "name"), "each persona's name"),
    )

    def send(self, message: OutgoingMessage) -> SentPost:
        raise NotImplementedError

    def poll(self, cursor: str | None) -> PollResult:
        raise NotImplementedError


class DeclaredWithOwnSecrets(Declared):
    secret_settings: ClassVar[frozenset[str]] = frozenset({"keys", "names"})


class Checked(Declared):
    def settings_problem(self) -> str | None:
        return "the server says no" if self.config.settings.get("refuse") else None


def _adapter(cls: type[ChannelAdapter], settings: dict[str, Any]) -> ChannelAdapter:
    personas = [Persona(id=p, name=p.title(), accounts={"c": f"@{p}"}) for p in ("ana", "ben")]
    context = ChannelContext(clock=VirtualClock(datetime(2025, 1, 1, tzinfo=UTC)),
                             state_dir=Path("."), seed=0, personas=personas, brands=[],
                             timezone="UTC", environ={"K": "k"})
    return cls(Channel(id="c", adapter=cls.name, settings=settings), context)


def test_a_declaring_adapter_gets_its_secrets_required_settings_and_reasons() -> None:
    assert Declared.secret_settings == {"keys"}
    assert Declared.required_settings == ("server", "keys")
    assert DeclaredWithOwnSecrets.secret_settings == {"keys", "names"}  # said outright: kept
    assert DeclaredWithOwnSecrets.required_settings == ("server", "keys")
    keys = {"ana": {"env": "K"}, "ben": {"env": "K"}}
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({}, "settings server, keys required"),
        ({"server": {"host": "h"}, "keys": {"ana": {"env": "UNSET"}}},
         "environment variable UNSET not set"),
        ({"server": {"port": 1}, "keys": keys}, "settings.server.host is required"),
        ({"server": {"host": ""}, "keys": keys}, "settings.server.host is required"),
        ({"server": {"host": "h"}, "keys": {"ana": {"env": "K"}}},
         "no key for persona ben (settings.keys)"),
        ({"server": {"host": "h"}, "keys": "k"}, "settings.keys must map each persona to its key"),
        ({"server": {"host": "h"}, "keys": keys}, None),  # names: optional, not for everyone
    ]
    for settings, reason in cases:
        assert _adapter(Declared, settings).not_configured() == reason, settings


def test_an_adapter_s_own_check_comes_between_missing_settings_and_credentials() -> None:
    base = {"server": {"host": "h"}, "keys": {}, "refuse": True}  # no persona has a key
    assert _adapter(Checked, base).not_configured() == "the server says no"
    assert _adapter(Checked, {"refuse": True}).not_configured() == (
        "settings server, keys required")
    assert _adapter(Checked, {**base, "refuse": False}).not_configured() == (
        "no key for persona ana, ben (settings.keys)")


def test_the_tls_settings_are_declared_once() -> None:
    assert [s.name for s in TLS_SETTINGS] == ["ca_file", "verify_tls"]
    assert (TIMEOUT, *TLS_SETTINGS) == CONNECTION_SETTINGS
