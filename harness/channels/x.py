"""The ``x`` channel: X (Twitter) API v2 through ``tweepy.Client``.

Its settings are :attr:`XChannel.settings_spec` (the table in ``docs/channels.md``).

How it reads: replies to a persona's post mention the persona, so one mentions read per persona
per poll (``since_id``), however many probes are open, finds every public reply; they are matched
by ``referenced_tweets`` (replied_to) and ``conversation_id``. Direct messages are read at
most every ``dm_poll_every``. A post's time is the platform's: decoded from its id (a snowflake
carries its creation time to the millisecond) when X answers a post with only its id.

X's automation rules forbid unsolicited automated @mentions, so the default send mode is
``assisted``: a person posts, the harness finds the post on the persona's timeline.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

import requests
import tweepy

from harness.channels import http, tls
from harness.channels.base import (
    CONNECTION_SETTINGS,
    ChannelAdapter,
    ChannelContext,
    IncomingReply,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.channels.commons import OwnPosts, parse_time, scrub
from harness.channels.settings import (
    BOOLEAN,
    DURATION,
    IDENTIFIER,
    NUMBER,
    TEXT,
    URL,
    PerPersona,
    Setting,
    Table,
)
from harness.durations import compact_duration
from harness.errors import ChannelError, RateLimited, TransientError
from harness.scenario.model import Channel

TWEET_FIELDS = ["created_at", "conversation_id", "in_reply_to_user_id", "referenced_tweets",
                "author_id"]
DM_FIELDS = ["id", "text", "created_at", "sender_id", "dm_conversation_id", "event_type"]
PAGE = 100
TWITTER_EPOCH_MS = 1288834974657
DM_POLL_EVERY = timedelta(minutes=15)
"""How often direct messages are read by default (X allows 15 reads per 15 minutes)."""
_scrub = partial(scrub, queries=True)
"""An exception's words without URLs' query strings (they may carry tokens)."""
X_POSTS = OwnPosts(handle=r"\w+", leading_mentions="added")
"""Our posts on X: the text as posted, but X starts a reply's text with the @mentions of the
thread."""


def snowflake_time(post_id: str) -> datetime:
    """When X created the post with this id (ids carry their time in their top bits)."""
    millis = (int(post_id) >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(millis / 1000, UTC)


class XChannel(ChannelAdapter):
    """Posts, replies and reads mentions and DMs on X through API v2."""

    name = "x"
    platform = "x"
    summary = "X (Twitter) API v2 via tweepy; OAuth 1.0a user tokens per persona"
    settings_spec = (
        Setting("consumer_key", TEXT, "the app's API key", required=True, secret=True),
        Setting("consumer_secret", TEXT, "the app's API key secret", required=True,
                secret=True),
        Setting("tokens", PerPersona(Table((
            Setting("access_token", TEXT, "the persona's OAuth 1.0a access token",
                    required=True, secret=True),
            Setting("access_token_secret", TEXT, "its secret", required=True, secret=True),
        )), "access tokens"), "each persona's OAuth 1.0a user tokens", required=True,
                secret=True),
        Setting("user_ids", PerPersona(IDENTIFIER, "user id"),
                "each persona's user id (saves one users/me call per persona)"),
        Setting("read_dms", BOOLEAN, "read the brands' direct messages", default=True),
        Setting("dm_poll_every", DURATION, "how often direct messages are read (X allows 15 "
                "reads per 15 min)", default=compact_duration(DM_POLL_EVERY)),
        Setting("price_per_post_created", NUMBER, "USD per post created, for the estimate "
                "shown before a live run"),
        Setting("price_per_post_read", NUMBER, "USD per post read, for the estimate"),
        Setting("api_base", URL, "send requests here instead of to X (a proxy; tests: a fake "
                "on loopback)"),
        *CONNECTION_SETTINGS,
    )
    default_mode = "assisted"
    connects = True

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        super().__init__(config, context)
        self._clients: dict[str, tweepy.Client] = {}
        self._server_times: list[datetime] = []
        self._user_ids: dict[str, str] = {
            str(k): str(v) for k, v in (config.settings.get("user_ids") or {}).items()}
        self.read_dms = bool(config.settings.get("read_dms", True))
        self.dm_every = self.settings.duration("dm_poll_every", DM_POLL_EVERY)

    # -- clients ----------------------------------------------------------------------------

    def _client(self, persona: str) -> tweepy.Client:
        if persona not in self._clients:
            tokens = self.settings.per_persona("tokens", persona)
            if not isinstance(tokens, dict) or not {"access_token", "access_token_secret"} <= set(
                    tokens):
                raise self._not_configured(f"settings.tokens.{persona} needs access_token and "
                                           "access_token_secret")
            client = tweepy.Client(
                consumer_key=self.settings.require("consumer_key"),
                consumer_secret=self.settings.require("consumer_secret"),
                access_token=tokens["access_token"],
                access_token_secret=tokens["access_token_secret"],
                return_type=dict, wait_on_rate_limit=False)
            http.mount(client.session, self.config.settings.get("api_base"), self.timeout_s,
                       tls.requests_verify(self.settings))
            client.session.hooks["response"].append(self._note_server_time)
            self._clients[persona] = client
        return self._clients[persona]

    def _note_server_time(self, response: requests.Response, *args: Any,
                          **kwargs: Any) -> None:
        """Keep the platform's clock from each answer's Date header (for ``as_of``)."""
        stamp = response.headers.get("date")
        if stamp:
            with contextlib.suppress(TypeError, ValueError):
                self._server_times.append(parsedate_to_datetime(stamp).astimezone(UTC))

    def _not_configured(self, message: str) -> ChannelError:
        from harness.errors import NotConfigured

        return NotConfigured(f"channel {self.config.id!r}: {message}")

    def _user_id(self, persona: str) -> str:
        if persona not in self._user_ids:
            me = self._call(lambda: self._client(persona).get_me(user_auth=True))
            self._user_ids[persona] = str(me["data"]["id"])
        return self._user_ids[persona]

    def _call(self, request: Any) -> Any:
        """Make one API request, turning every failure into the project's errors."""
        try:
            return request()
        except tweepy.TooManyRequests as exc:
            reset = (datetime.fromtimestamp(exc.reset_time, UTC)
                     if exc.reset_time is not None else None)
            raise RateLimited(f"X: 429 too many requests{_detail(exc)}", reset) from None
        except tweepy.HTTPException as exc:
            raise http.error_for_status(exc.response.status_code,
                                        f"X: {exc.response.status_code}{_detail(exc)}") from None
        except (requests.RequestException, ValueError) as exc:  # network, timeout, bad JSON
            raise tls.connection_error("X", exc, f"{type(exc).__name__}: {_scrub(exc)}"
                                       ) from None
        except tweepy.TweepyException as exc:
            raise TransientError(f"X: {_scrub(exc)}") from None

    def check_access(self) -> str:
        """``users/me`` as each persona (read-only; X counts it as one read)."""
        for persona in self.channel_personas():
            self._user_ids.pop(persona, None)  # asked for real, not from settings.user_ids
            self._user_id(persona)
        return f"logged in as {self.personas_shown()}"

    # -- sending ----------------------------------------------------------------------------

    def send(self, message: OutgoingMessage) -> SentPost:
        client = self._client(message.persona_id)
        response = self._call(lambda: client.create_tweet(
            text=message.text, in_reply_to_tweet_id=message.in_reply_to, user_auth=True))
        post_id = str(response["data"]["id"])
        return SentPost(post_id, snowflake_time(post_id), self._url(message, post_id))

    def _url(self, message: OutgoingMessage, post_id: str) -> str:
        account = message.persona_account.lstrip("@") or "i"
        return f"https://x.com/{account}/status/{post_id}"

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        client = self._client(message.persona_id)
        user_id = self._user_id(message.persona_id)
        params: dict[str, Any] = {"max_results": PAGE, "tweet_fields": TWEET_FIELDS}
        if message.not_before is not None:
            params["start_time"] = message.not_before
        response = self._call(lambda: client.get_users_tweets(user_id, user_auth=True,
                                                                **params))
        for tweet in reversed(response.get("data") or []):  # oldest first
            # one question at a time: only a tweet whose text matches is read any further
            if not X_POSTS.same_text(tweet.get("text", ""), message.text):
                continue
            if not X_POSTS.same_thread(_replied_to(tweet), message):
                continue
            created = _created(tweet)
            if not X_POSTS.in_time(created, message):
                continue
            return SentPost(str(tweet["id"]), created, self._url(message, str(tweet["id"])))
        return None

    # -- reading ----------------------------------------------------------------------------

    def poll(self, cursor: str | None) -> PollResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        self._server_times = []
        mentions: dict[str, str] = dict(state.get("mentions", {}))
        dms: dict[str, str] = dict(state.get("dms", {}))
        now = self.context.clock.now()
        replies: list[IncomingReply] = []
        for persona in self.channel_personas():
            found, newest = self._mentions(persona, mentions.get(persona))
            replies.extend(found)
            if newest:
                mentions[persona] = newest
        dm_read_at = state.get("dm_read_at")
        if self.read_dms and (dm_read_at is None
                              or now >= datetime.fromisoformat(dm_read_at) + self.dm_every):
            for persona in self.channel_personas():
                found, newest = self._direct_messages(persona, dms.get(persona))
                replies.extend(found)
                if newest:
                    dms[persona] = newest
            dm_read_at = now.isoformat()
        replies.sort(key=lambda r: (r.created_at, int(r.platform_id)))
        cursor = json.dumps({"mentions": mentions, "dms": dms, "dm_read_at": dm_read_at},
                            sort_keys=True)
        # the reads cover the platform's time up to the earliest of their answers
        as_of = min(self._server_times) if self._server_times else None
        return PollResult(replies, cursor, as_of=as_of)

    def _pages(self, first: Any) -> Iterator[dict[str, Any]]:
        """Every page of a paginated read: one request unless a page comes back full."""
        page: dict[str, Any] = first(None)
        yield page
        while (token := page.get("meta", {}).get("next_token")) and len(
                page.get("data") or []) >= PAGE:
            page = first(token)
            yield page

    def _mentions(self, persona: str, since_id: str | None) -> tuple[list[IncomingReply],
                                                                      str | None]:
        client, user_id = self._client(persona), self._user_id(persona)

        def read(token: str | None) -> Any:
            return self._call(lambda: client.get_users_mentions(
                user_id, since_id=since_id, max_results=PAGE, pagination_token=token,
                tweet_fields=TWEET_FIELDS, expansions=["author_id"], user_fields=["username"],
                user_auth=True))

        replies, newest = [], since_id
        for page in self._pages(read):
            users = {u["id"]: u["username"] for u in page.get("includes", {}).get("users", [])}
            for tweet in page.get("data") or []:
                if tweet.get("author_id") == user_id:
                    continue
                newest = _max_id(newest, tweet["id"])
                author = users.get(tweet.get("author_id", ""), tweet.get("author_id", ""))
                replies.append(IncomingReply(
                    platform_id=str(tweet["id"]), created_at=_created(tweet),
                    author=f"@{author}", kind="public_reply", text=tweet.get("text", ""),
                    in_reply_to=_replied_to(tweet), conversation_id=tweet.get("conversation_id"),
                    to_account=self.accounts[persona], raw=tweet))
        return replies, newest

    def _direct_messages(self, persona: str, seen: str | None) -> tuple[list[IncomingReply],
                                                                       str | None]:
        client, user_id = self._client(persona), self._user_id(persona)
        response = self._call(lambda: client.get_direct_message_events(
            event_types="MessageCreate", dm_event_fields=DM_FIELDS, expansions=["sender_id"],
            user_fields=["username"], max_results=PAGE, user_auth=True))
        users = {u["id"]: u["username"] for u in response.get("includes", {}).get("users", [])}
        replies, newest = [], seen
        for event in response.get("data") or []:
            if seen is not None and int(event["id"]) <= int(seen):
                continue
            newest = _max_id(newest, event["id"])
            if event.get("sender_id") == user_id:
                continue
            sender = users.get(event.get("sender_id", ""), event.get("sender_id", ""))
            replies.append(IncomingReply(
                platform_id=str(event["id"]), created_at=_created(event),
                author=f"@{sender}", kind="direct_message", text=event.get("text", ""),
                conversation_id=event.get("dm_conversation_id"),
                to_account=self.accounts[persona], raw=event))
        return replies, newest

    def usage_estimate(self, posts: int, polls: int) -> dict[str, Any]:
        """Requests and billable units a run of ``posts`` posts and ``polls`` polls needs."""
        personas = len(self.channel_personas())
        dm_reads = 0
        if self.read_dms:
            ratio = max(1, round(self.dm_every / self.config.poll_every))
            dm_reads = personas * (polls // ratio + 1)
        estimate: dict[str, Any] = {
            "posts created": posts,
            "mention reads (at most)": personas * polls,
            "DM reads (at most)": dm_reads,
        }
        price_post = self.config.settings.get("price_per_post_created")
        price_read = self.config.settings.get("price_per_post_read")
        if isinstance(price_post, (int, float)) and isinstance(price_read, (int, float)):
            # reads are billed per post returned: one reply per post read once
            estimate["cost if every post gets one reply (USD)"] = round(
                posts * price_post + posts * price_read, 2)
        return estimate

    def close(self) -> None:
        for client in self._clients.values():
            client.session.close()


def _created(item: dict[str, Any]) -> datetime:
    """When X made a post or direct message: its ``created_at``, else from its id."""
    return parse_time(item["created_at"]) if "created_at" in item else snowflake_time(
        item["id"])


def _replied_to(tweet: dict[str, Any]) -> str | None:
    for reference in tweet.get("referenced_tweets") or []:
        if reference.get("type") == "replied_to":
            return str(reference["id"])
    return None


def _max_id(current: str | None, candidate: str) -> str:
    return candidate if current is None or int(candidate) > int(current) else current


def _detail(exc: tweepy.HTTPException) -> str:
    messages = [m for m in (exc.api_messages or []) if m][:2]
    return f": {'; '.join(messages)}" if messages else ""
