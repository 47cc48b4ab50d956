"""Bluesky logins: each persona's client and session, kept between runs, and one new login
when the platform refuses a session.

Logins are limited (30 per 5 minutes per account), so each persona's session is kept in the
run folder (``bluesky-<channel>-<persona>.session``, a :class:`~harness.channels.commons.
SessionFile`) and reused, also by a resumed run; the password is used only when there is no
saved session or the platform refused it (``ExpiredToken`` / ``InvalidToken``: then one new
login and the request once more). The client refreshes tokens shortly before they expire;
refreshed sessions are saved too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from atproto_client import Client, SessionEvent  # type: ignore[import-untyped]
from atproto_client.request import Request  # type: ignore[import-untyped]
from atproto_core.exceptions import AtProtocolError  # type: ignore[import-untyped]

from harness.channels import tls
from harness.channels.base import ChannelAdapter
from harness.channels.bluesky_errors import SessionRefused, mapped
from harness.channels.commons import SessionFile
from harness.errors import AuthenticationFailed

T = TypeVar("T")


@dataclass
class Login:
    """One persona's client and session."""

    persona: str
    handle: str  # without "@"
    client: Any
    did: str | None = None  # set while the client holds a session


class Logins:
    """The clients of a channel's personas, logged in when first used."""

    def __init__(self, adapter: ChannelAdapter, service: str,
                 handle: Callable[[str], str]) -> None:
        self.adapter = adapter
        self.service = service
        self.handle = handle
        """The persona's handle (its account on the channel, without "@")."""
        self._logins: dict[str, Login] = {}

    def session_file(self, login: Login) -> SessionFile:
        folder = self.adapter.context.state_dir
        path = folder / f"bluesky-{self.adapter.config.id}-{login.persona}.session"
        return SessionFile(path, self.service, login.handle.lower())

    def login(self, persona: str) -> Login:
        """The persona's client (made without touching the network)."""
        login = self._logins.get(persona)
        if login is None:
            client = Client(base_url=self.service, request=Request(
                timeout=self.adapter.timeout_s, verify=tls.ssl_context(self.adapter.settings)))
            login = Login(persona, self.handle(persona), client)

            def changed(event: Any, session: Any, login: Login = login) -> None:
                login.did = session.did
                if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
                    self.session_file(login).save(session.export())

            client.on_session_change(changed)
            self._logins[persona] = login
        return login

    def _ensure_session(self, login: Login) -> bool:
        """Give the client a session: the saved one, else a new login. True if new."""
        if login.did is not None:
            return False
        saved = self.session_file(login).load()
        if saved is not None:
            try:
                login.client.login(session_string=saved, fetch_bsky_profile=False)
                return False
            except (AtProtocolError, ValueError):
                login.did = None  # unreadable: log in instead
        self._password_login(login)
        return True

    def _password_login(self, login: Login) -> None:
        """``com.atproto.server.createSession`` with the app password (limited: 30 per 5 min)."""
        password = self.adapter.settings.per_persona("passwords", login.persona)
        login.did = None
        login.client.update_base_url(self.service)  # log in where configured, not a stale PDS
        try:
            mapped(lambda: login.client.login(login.handle, str(password),
                                              fetch_bsky_profile=False), "log in")
        except SessionRefused:
            raise AuthenticationFailed(f"Bluesky: {login.handle} could not log in: the "
                                       "platform refused the app password") from None
        except AuthenticationFailed as exc:
            raise AuthenticationFailed(f"Bluesky: {login.handle} could not log in: {exc}"
                                       ) from None

    def call(self, persona: str, action: Callable[[Login], T], what: str) -> T:
        """Run ``action`` with the persona's session; if the platform refuses a session we had
        before this call, log in again once and repeat it."""
        login = self.login(persona)
        fresh = self._ensure_session(login)
        try:
            return mapped(lambda: action(login), what)
        except SessionRefused:
            if fresh:
                raise AuthenticationFailed(f"Bluesky: {what}: the platform refused a session "
                                           "it had just opened") from None
        self.session_file(login).forget()
        self._password_login(login)
        try:
            return mapped(lambda: action(login), what)
        except SessionRefused:
            raise AuthenticationFailed(f"Bluesky: {what}: the platform refused a session "
                                       "it had just opened") from None

    def close(self) -> None:
        for login in self._logins.values():
            login.client.request.close()
