"""Who is who on each channel: persona accounts and brand handles, for sending and matching."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.scenario.model import Scenario
from harness.scenario.queries import normalise_handle


@dataclass(frozen=True)
class Roster:
    """Accounts by channel, as the scenario lists them."""

    persona_accounts: dict[tuple[str, str], str]
    """(channel, persona id) -> account handle."""
    brand_handles: dict[tuple[str, str], tuple[str, ...]]
    """(channel, brand id) -> official handles."""
    account_personas: dict[tuple[str, str], str]
    """(channel, normalised account) -> persona id."""
    handle_brands: dict[tuple[str, str], str]
    """(channel, normalised handle) -> brand id."""
    email_channels: frozenset[str] = field(default_factory=frozenset)
    """Channels on the email platform, where the brand's answer in the thread is an email."""

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Roster:
        """Build the roster of a scenario."""
        persona_accounts = {(channel, p.id): account for p in scenario.personas
                            for channel, account in p.accounts.items()}
        brand_handles = {(channel, b.id): tuple(handles) for b in scenario.brands
                         for channel, handles in b.handles.items()}
        return cls(
            persona_accounts=persona_accounts,
            brand_handles=brand_handles,
            account_personas={(ch, normalise_handle(acc)): pid
                              for (ch, pid), acc in persona_accounts.items()},
            handle_brands={(ch, normalise_handle(h)): bid
                           for (ch, bid), handles in brand_handles.items() for h in handles},
            email_channels=frozenset(c.id for c in scenario.channels if c.platform == "email"),
        )

    def thread_kind(self, channel: str) -> str:
        """The kind of the brand's answer in a probe's thread on ``channel`` (what a follow-up
        answers): an email on email channels, a public reply elsewhere."""
        return "email" if channel in self.email_channels else "public_reply"

    def brand_of(self, channel: str, author: str) -> str | None:
        """The brand whose official handle ``author`` is on ``channel``, if any."""
        return self.handle_brands.get((channel, normalise_handle(author)))

    def persona_of(self, channel: str, account: str | None) -> str | None:
        """The persona owning ``account`` on ``channel``, if any."""
        if not account:
            return None
        return self.account_personas.get((channel, normalise_handle(account)))
