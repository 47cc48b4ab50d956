"""The ``manual`` channel: for platforms without a usable API for personal accounts (Facebook,
Instagram, Yelp, phone, web chat).

A person makes each post and records what they sent, and what came back, with ``shopper log``.
The records go to a journal in the run folder, ``manual-<channel id>.jsonl``, which is this
channel's "platform": the adapter finds the persona's posts and the brands' replies there, and
the runner treats them like any other channel's. The only send mode is ``assisted``: the runner
never calls :meth:`ManualChannel.send`; it reminds the person and then looks for the post.

The journal holds one JSON object per line, appended (never rewritten) under an exclusive
``flock`` in a single ``write`` followed by ``fsync``. Readers take no lock: a last line without
its newline is a write still in progress (or cut short by a crash) and is not read until it is
complete. Lines that are not valid records are skipped. The record types:

``sent``   written by ``shopper log --sent``: ``probe``, ``step``, ``at`` (ISO 8601, UTC),
           ``id`` (the post's URL if given, else ``manual:<probe>:s<step>``), ``text``, ``url``,
           ``account`` (the persona's), ``brand``. The latest one for a probe step counts.
``reply``  written by ``shopper log --reply``: ``id`` (the URL if given, else
           ``manual:<uuid4>``), ``probe``, ``step``, ``at``, ``kind``, ``author``, ``text``,
           ``url``, ``automated``.
``found``  written by this adapter when it first reports a ``sent`` record to the runner (from
           :meth:`ManualChannel.find_post`): ``probe``, ``step``, ``at`` (the run's clock),
           ``id``. From then on the run knows the post, so its replies can be matched to it, and
           ``shopper log`` refuses to replace the ``sent`` record.

:meth:`ManualChannel.poll` hands a reply to the runner only once the post it answers is
``found`` (a reply seen before the runner knows the post would be matched to the wrong probe,
or to none) and once its time has come on the run's clock (``at <= now``); until then the
reply stays pending in the cursor, which is ``"N"`` (journal lines read) or ``"N:i,j"`` (and
lines ``i``, ``j`` still pending).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from harness.channels.base import (
    ChannelAdapter,
    ChannelContext,
    IncomingReply,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.errors import AccessDenied
from harness.platforms import REPLY_KINDS, ReplyKind, SendMode
from harness.scenario.model import Channel

RECORD_TYPES = ("sent", "reply", "found")


def journal_path(folder: Path, channel_id: str) -> Path:
    """Where a manual channel's journal lives in a run folder."""
    return folder / f"manual-{channel_id}.jsonl"


def sent_id(probe_id: str, step: int) -> str:
    """The platform id of a post recorded without a URL."""
    return f"manual:{probe_id}:s{step}"


def utc_text(moment: datetime) -> str:
    """A moment as the journal writes it: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat()


def append_record(path: Path, record: Mapping[str, Any]) -> None:
    """Append one record to the journal at ``path``: one whole line, under an exclusive lock,
    flushed to disk before returning."""
    line = (json.dumps(dict(record), ensure_ascii=False, separators=(",", ":")) + "\n")
    data = line.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A writer died mid-line (we hold the lock, so none is writing now): end its
            # fragment, which readers then skip, rather than run our record into it.
            data = b"\n" + data
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock


@dataclass(frozen=True)
class Entry:
    """One journal record, checked and parsed."""

    type: str
    probe: str
    step: int
    at: datetime
    id: str
    fields: Mapping[str, Any]

    @property
    def key(self) -> tuple[str, int]:
        """The probe step it is about."""
        return self.probe, self.step

    def text(self, name: str) -> str:
        """A text field ('' when absent)."""
        value = self.fields.get(name)
        return value if isinstance(value, str) else ""

    def optional(self, name: str) -> str | None:
        """A text field that may be absent."""
        value = self.fields.get(name)
        return value if isinstance(value, str) and value else None


def parse_entry(raw: bytes) -> Entry | None:
    """The record on one journal line, or ``None`` if it is not a valid one."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except ValueError:  # includes UnicodeDecodeError and JSONDecodeError
        return None
    if not isinstance(record, dict):
        return None
    kind, probe, step = record.get("type"), record.get("probe"), record.get("step")
    if (kind not in RECORD_TYPES or not isinstance(probe, str) or not isinstance(step, int)
            or isinstance(step, bool) or step < 0 or not isinstance(record.get("id"), str)
            or not isinstance(record.get("at"), str)):
        return None
    try:
        at = datetime.fromisoformat(record["at"])
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return Entry(kind, probe, step, at.astimezone(UTC), record["id"], record)


@dataclass
class Journal:
    """A manual channel's journal, read incrementally (it only ever grows)."""

    path: Path
    lines: list[Entry | None] = field(default_factory=list)
    """Every complete line read so far: its record, or ``None`` for an invalid line."""
    sent: dict[tuple[str, int], Entry] = field(default_factory=dict)
    """The latest ``sent`` record of each probe step."""
    found: dict[tuple[str, int], Entry] = field(default_factory=dict)
    """The ``found`` record of each probe step the run has picked up."""
    posts: dict[str, Entry] = field(default_factory=dict)
    """The latest ``sent`` record with each id."""
    replies: dict[tuple[str, int], list[Entry]] = field(default_factory=dict)
    reply_ids: set[str] = field(default_factory=set)
    _offset: int = 0

    def refresh(self) -> Journal:
        """Read whatever complete lines were appended since the last call."""
        try:
            with self.path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self._offset:  # replaced by a shorter file: read it afresh
                    self._reset()
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return self
        end = data.rfind(b"\n")
        if end < 0:
            return self  # nothing new, or only a line still being written
        for raw in data[:end].split(b"\n"):
            entry = parse_entry(raw)
            self.lines.append(entry)
            if entry is not None:
                self._index(entry)
        self._offset += end + 1
        return self

    def _reset(self) -> None:
        self.lines, self.sent, self.found, self.posts, self.replies = [], {}, {}, {}, {}
        self.reply_ids = set()
        self._offset = 0

    def _index(self, entry: Entry) -> None:
        if entry.type == "sent":
            self.sent[entry.key] = entry
            self.posts[entry.id] = entry
        elif entry.type == "found":
            self.found.setdefault(entry.key, entry)
        else:
            self.replies.setdefault(entry.key, []).append(entry)
            self.reply_ids.add(entry.id)


def parse_cursor(cursor: str | None) -> tuple[int, list[int]]:
    """``(lines read, pending line numbers)`` from a cursor made by :func:`make_cursor`."""
    if not cursor:
        return 0, []
    head, _, tail = cursor.partition(":")
    try:
        return int(head), [int(n) for n in tail.split(",") if n]
    except ValueError:
        return 0, []


def make_cursor(read: int, pending: list[int]) -> str:
    """The cursor for ``read`` lines read with lines ``pending`` not yet handed over."""
    return f"{read}:{','.join(map(str, pending))}" if pending else str(read)


class ManualChannel(ChannelAdapter):
    """Posts are made and recorded by a person; the journal of their records is the platform."""

    name = "manual"
    platform = "other"
    summary = "a person posts and records sends and replies with `shopper log` (no API)"
    settings_spec = ()
    modes: ClassVar[frozenset[SendMode]] = frozenset({"assisted"})
    default_mode: ClassVar[SendMode] = "assisted"

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        super().__init__(config, context)
        self.journal = Journal(journal_path(context.state_dir, config.id))

    def send(self, message: OutgoingMessage) -> SentPost:
        raise AccessDenied("manual channel: a person sends it; record it with shopper log")

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        journal = self.journal.refresh()
        key = (message.probe_id, message.step)
        if key not in journal.found:
            entry = journal.sent.get(key)
            if entry is None:
                return None
            append_record(journal.path, {
                "type": "found", "probe": entry.probe, "step": entry.step,
                "at": utc_text(self.context.clock.now()), "id": entry.id,
            })
            journal.refresh()
        found = journal.found.get(key)
        post = journal.posts.get(found.id) if found else None
        return SentPost(post.id, post.at, post.optional("url")) if post else None

    def poll(self, cursor: str | None) -> PollResult:
        self.journal.refresh()
        lines = self.journal.lines
        read, pending = parse_cursor(cursor)
        now = self.context.clock.now()
        replies: list[tuple[datetime, int, IncomingReply]] = []
        waiting: list[int] = []
        for number in [*pending, *range(read, len(lines))]:
            if number >= len(lines):
                continue
            entry = lines[number]
            if entry is None or entry.type != "reply":
                continue
            found = self.journal.found.get(entry.key)
            if found is None or entry.at > now:
                waiting.append(number)  # its post is not known to the run yet, or its time
                continue                # has not come on the run's clock
            sent = self.journal.posts.get(found.id)
            replies.append((entry.at, number, self._reply(entry, found, sent)))
        replies.sort(key=lambda item: (item[0], item[1]))
        return PollResult([reply for _, _, reply in replies],
                          make_cursor(max(read, len(lines)), sorted(waiting)))

    def _reply(self, entry: Entry, found: Entry, sent: Entry | None) -> IncomingReply:
        kind = entry.text("kind")
        return IncomingReply(
            platform_id=entry.id, created_at=entry.at, author=entry.text("author"),
            kind=_kind(kind), text=entry.text("text"), in_reply_to=found.id,
            conversation_id=None, to_account=sent.optional("account") if sent else None,
            automated=entry.fields.get("automated") is True, raw=dict(entry.fields),
        )


def _kind(value: str) -> ReplyKind:
    for kind in REPLY_KINDS:
        if kind == value:
            return kind
    return "other"
