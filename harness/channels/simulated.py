"""The ``simulated`` channel: an adapter like any other, backed by a simulated platform.

Brands behave as their scenario ``simulate:`` profiles say, on whatever clock the runner uses
(a virtual one in ``shopper run --simulate``). The platform's journal lives in the run folder,
so a killed run resumes against the same platform state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from harness.channels.base import (
    ChannelAdapter,
    ChannelContext,
    IncomingReply,
    OutgoingMessage,
    PollResult,
    SentPost,
)
from harness.channels.sim.behaviour import BrandBehaviour
from harness.channels.sim.platform import Post, SimulatedPlatform
from harness.scenario.model import Channel


class SimulatedChannel(ChannelAdapter):
    """Posts to, and reads replies from, an in-process simulated platform."""

    name = "simulated"
    platform = "other"
    summary = "in-process platform; brands follow their scenario `simulate:` profiles"
    settings_spec = None
    """It reads no settings and takes any: a channel keeps its live settings when simulated."""
    knows_future = True

    def __init__(self, config: Channel, context: ChannelContext) -> None:
        super().__init__(config, context)
        behaviours = {
            brand.id: BrandBehaviour(brand, brand.timezone or context.timezone, context.seed)
            for brand in context.brands
        }
        authors = {
            brand.id: (brand.handles.get(config.id) or [f"@{brand.id}"])[0]
            for brand in context.brands
        }
        names = {persona.id: persona.name for persona in context.personas}
        journal = context.state_dir / f"simulated-{config.id}.jsonl"
        self.sim = SimulatedPlatform(journal, behaviours, authors, names)
        self._last_cursor: tuple[str, datetime] = ("", datetime.min)

    def send(self, message: OutgoingMessage) -> SentPost:
        now = self.context.clock.now()
        created = now.replace(microsecond=0)
        if created < now:
            created += timedelta(seconds=1)
        post = self.sim.post(Post(
            platform_id=f"{self.config.id}-{message.probe_id}-s{message.step}",
            probe_id=message.probe_id, step=message.step, persona=message.persona_id,
            account=message.persona_account, brand=message.brand_id, mention=message.mention,
            category=message.category, text=message.text, created_at=created,
            in_reply_to=message.in_reply_to,
        ))
        return SentPost(post.platform_id, post.created_at)

    def find_post(self, message: OutgoingMessage) -> SentPost | None:
        post = self.sim.find(message.probe_id, message.step)
        return SentPost(post.platform_id, post.created_at) if post else None

    def poll(self, cursor: str | None) -> PollResult:
        now = self.context.clock.now()
        after = self._parse(cursor)
        replies = [
            IncomingReply(
                platform_id=event.platform_id, created_at=event.created_at, author=event.author,
                kind=event.kind,  # type: ignore[arg-type]
                text=event.text, in_reply_to=event.post.platform_id,
                conversation_id=event.post.platform_id, to_account=event.post.account,
                automated=event.automated,
                raw={"id": event.platform_id, "in_reply_to": event.post.platform_id,
                     "created_at": event.created_at.isoformat(), "kind": event.kind},
            )
            for event in self.sim.visible(after, now)
        ]
        return PollResult(replies, now.isoformat(), as_of=now)

    def next_activity(self, cursor: str | None) -> datetime | None:
        return self.sim.next_event_after(self._parse(cursor))

    def _parse(self, cursor: str | None) -> datetime | None:
        if cursor is None:
            return None
        if cursor != self._last_cursor[0]:  # the runner asks often about the same cursor
            self._last_cursor = (cursor, datetime.fromisoformat(cursor))
        return self._last_cursor[1]

    def close(self) -> None:
        self.sim.close()
