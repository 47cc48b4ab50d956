"""When to notify: the alert state machine, a pure function of what was last judged and
announced, the verdicts at a moment, the maintenance periods and the ``alerts:`` settings.

Each objective is followed per brand in two parts: what it was last *judged* (``unknown``
until it first passes or fails, then ``ok`` or ``failing``, with since when) and whether a
breach is *announced*. At each moment judged:

- ``pass`` makes it ``ok``, ``fail`` makes it ``failing``. ``insufficient`` (too few probes
  decided) changes nothing, so a quiet spell neither raises nor clears an alert; with
  ``on_insufficient: true`` an objective that was ``ok`` and becomes insufficient counts as
  ``failing`` (from ``unknown``, the start of a run, it stays ``unknown``).
- Failing with no breach announced: one **breach** notice, stating since when it fails.
- Failing with a breach announced: nothing, or with ``remind_every`` a **reminder** when the
  next one is due. Reminders fall due every ``remind_every`` after the breach notice; however
  late the moment judged, it gets at most one, and the next is due on the same grid.
- Not failing with a breach announced: one **recovery** notice, stating how long the breach
  lasted (from when it was first judged failing to when it was first judged passing again).
  Not failing with nothing announced: nothing, so there is never a recovery without an alert.
- In a maintenance period nothing is announced, but what is judged is still followed: a
  breach that began (or goes on) in maintenance and still fails when it ends is announced at
  the first moment judged after it, with its real start; one that began and ended inside it
  is never announced; a breach announced before that recovered inside it gets its recovery
  then (stating when it recovered), even if it failed again meanwhile: the new breach is
  announced at the next moment judged, never folded into a reminder of the old one.

Moments are judged in order; a moment no later than the last one judged decides nothing (a
resumed run goes over moments it has already judged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from harness.analysis.objectives import Verdict, in_maintenance
from harness.scenario.objectives import Alerts, Maintenance
from harness.store.alerts import AlertLevel, AlertState, NoticeKind


@dataclass(frozen=True)
class Notice:
    """A notification to send, and what it says."""

    kind: NoticeKind
    verdict: Verdict
    at: datetime
    breach_since: datetime
    """When the breach began (first judged failing)."""
    recovered_at: datetime | None = None
    """For a recovery: when the objective was first judged passing again."""

    @property
    def objective(self) -> str:
        """The objective's name."""
        return self.verdict.objective

    @property
    def brand(self) -> str:
        """The brand's id."""
        return self.verdict.brand


def judged(previous: AlertLevel, verdict: Verdict, on_insufficient: bool) -> AlertLevel:
    """What a verdict makes of an objective's state: pass ``ok``, fail ``failing``,
    insufficient no change (or, with ``on_insufficient``, ``failing`` where it was ``ok``)."""
    if verdict.status == "pass":
        return "ok"
    if verdict.status == "fail":
        return "failing"
    if on_insufficient and previous == "ok":
        return "failing"
    return previous


def step(previous: AlertState | None, verdict: Verdict, at: datetime, *, muted: bool,
         alerts: Alerts) -> tuple[AlertState, Notice | None]:
    """One objective for one brand at ``at``: its new state, and the notice it calls for."""
    if muted and previous is not None and previous.breach_since is not None \
            and previous.state == "ok":
        # An announced breach that recovered inside maintenance is held there until the
        # recovery can be announced: failing again first must not fold both into a reminder.
        return replace(previous, checked_at=at), None
    was: AlertLevel = previous.state if previous else "unknown"
    now = judged(was, verdict, alerts.on_insufficient)
    since = at if previous is None or now != was else previous.since
    breach_since = previous.breach_since if previous else None
    last = previous.last_notified_at if previous else None
    notice = None
    if not muted:
        if was == "ok" and breach_since is not None and previous is not None:
            # it recovered during maintenance: the recovery first (a new breach, if it fails
            # now, is announced at the next moment judged)
            notice = Notice("recovery", verdict, at, breach_since, previous.since)
            breach_since, last = None, None
        elif now == "failing" and breach_since is None:
            breach_since, last = since or at, at
            notice = Notice("breach", verdict, at, breach_since)
        elif now == "failing" and breach_since is not None:
            remind = alerts.remind_every
            base = last or at
            if remind is not None and at - base >= remind:
                last = base + remind * ((at - base) // remind)
                notice = Notice("reminder", verdict, at, breach_since)
        elif breach_since is not None:
            notice = Notice("recovery", verdict, at, breach_since, since or at)
            breach_since, last = None, None
    state = AlertState(verdict.objective, verdict.brand, now, since, breach_since, last, at)
    return state, notice


def decide(previous: Mapping[tuple[str, str], AlertState], verdicts: Sequence[Verdict],
           at: datetime, *, maintenance: Sequence[Maintenance], zone: tzinfo,
           alerts: Alerts) -> tuple[list[AlertState], list[Notice]]:
    """Every objective and brand judged at ``at``: the states to keep and the notices to send
    (none if ``at`` is not later than every moment already judged)."""
    latest = max((s.checked_at for s in previous.values()), default=None)
    if latest is not None and at <= latest:
        return [], []
    muted = in_maintenance(at, maintenance, zone)
    states, notices = [], []
    for verdict in verdicts:
        state, notice = step(previous.get((verdict.objective, verdict.brand)), verdict, at,
                             muted=muted, alerts=alerts)
        states.append(state)
        if notice is not None:
            notices.append(notice)
    return states, notices
