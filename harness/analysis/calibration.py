"""Each brand's ``simulate:`` profile, fitted from a finished run, with intervals.

Per brand, from the first messages it was sent (docs/calibration.md says more):

- ``reply``: per mention mode, k answered within the window of n sent, with the Wilson
  interval, divided by the share of replies the window lets through under the fitted latency
  (close to 1 unless replies are slow); a mode the run did not use is left out.
- ``category``: each category's answer rate over the brand's overall rate, so the multipliers
  average 1 over the messages sent (only the products mode x category are identified); the
  interval comes from the Katz log interval of the category's rate over the other categories'.
- ``latency``, ``off_hours``, ``weekends``: :mod:`harness.analysis.calibration_hours` and
  :mod:`harness.analysis.lognormal_fit` (a truncated log-normal MLE with a floor).
- ``direct_message``, ``email``: k of the answered messages followed by a DM (an email) of n
  answered, Wilson; ``follow_up_reply``: follow-ups answered of those sent, Wilson;
  ``auto_ack``: messages acknowledged of n sent, Wilson, its delay the median with a
  distribution-free (order statistic) interval.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist

from harness.analysis.calibration_hours import Clocks, HoursDecision, Observation, decide
from harness.analysis.lognormal_fit import LatencyFit
from harness.analysis.outcomes import email_channels, outcomes
from harness.analysis.rates import wilson
from harness.scenario.model import Scenario
from harness.store.records import ReplyRecord
from harness.store.sqlite import Store

FEW_REPLIES = 20
"""Below this many replies a brand's profile gets a note: its finer parameters are noisy."""


@dataclass(frozen=True)
class Estimate:
    """A fitted value with its interval, and the k of n it came from where it is a count."""

    value: float
    low: float
    high: float
    k: int | None = None
    n: int | None = None

    def contains(self, value: float, tolerance: float = 1e-9) -> bool:
        """Whether ``value`` lies in the interval."""
        return self.low - tolerance <= value <= self.high + tolerance


@dataclass(frozen=True)
class LatencyEstimate:
    """The fitted delay: median and minimum in seconds, spread of the log (``None``: not
    identified from fewer than two replies above the floor)."""

    median: Estimate
    spread: Estimate | None
    minimum: Estimate
    replies: int
    at_floor: int


@dataclass(frozen=True)
class AutoAckEstimate:
    """How often and how soon the brand acknowledges automatically, and by what kind."""

    probability: Estimate
    after: Estimate
    kind: str


@dataclass(frozen=True)
class BrandCalibration:
    """Everything fitted for one brand."""

    brand: str
    sent: int
    reply: dict[str, Estimate]
    category: dict[str, Estimate]
    latency: LatencyEstimate | None
    hours: HoursDecision
    direct_message: Estimate | None
    email: Estimate | None
    follow_up_reply: Estimate | None
    auto_ack: AutoAckEstimate | None
    notes: list[str] = field(default_factory=list)


def z_for(confidence: float) -> float:
    """The normal quantile of a two-sided interval at ``confidence`` (1.96 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def calibrate(store: Store, confidence: float = 0.95) -> list[BrandCalibration]:
    """Fit every brand of a run's store, in the scenario's brand order."""
    meta = store.meta()
    scenario = Scenario.model_validate_json(meta["scenario_json"])
    window = float(meta["observation_window_s"])
    replies = store.replies()
    sends = store.sends()
    results = outcomes(store.probes(), sends, replies, store.closed(),
                       timedelta(seconds=window), email_channels(meta))
    acks: dict[str, list[ReplyRecord]] = defaultdict(list)
    answered_steps: set[tuple[str, int]] = set()
    for reply in replies:
        if reply.probe_id is None or not reply.from_brand:
            continue
        if reply.automated and reply.step == 0:
            acks[reply.probe_id].append(reply)
        elif not reply.automated and reply.step:
            answered_steps.add((reply.probe_id, reply.step))
    follow_ups: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    for send in sends:
        if send.step > 0 and send.state == "sent" and send.sent_at is not None:
            follow_ups[send.probe_id].append(
                (send.sent_at, (send.probe_id, send.step) in answered_steps))
    by_brand: dict[str, list[Observation]] = defaultdict(list)
    email_on = email_channels(meta)
    for o in results:
        if o.sent_at is None:
            continue
        mine = sorted(acks.get(o.probe.probe_id, []), key=lambda r: r.created_at)
        by_brand[o.probe.brand].append(Observation(
            probe=o.probe, sent_at=o.sent_at,
            reply_at=o.first_reply_at if o.responded else None,
            reacted=o.first_reply_at is not None or bool(mine),
            ack_after=(mine[0].created_at - o.sent_at).total_seconds() if mine else None,
            ack_kind=mine[0].kind if mine else None,
            direct_message=o.direct_message,
            email=None if o.probe.channel in email_on else o.email,
            follow_ups=tuple(sorted(follow_ups.get(o.probe.probe_id, []))),
        ))
    z = z_for(confidence)
    fitted = []
    for brand in scenario.brands:
        observations = by_brand.get(brand.id, [])
        fitted.append(_fit_brand(brand.id, observations, Clocks(
            brand, brand.timezone or scenario.timezone,
            min((o.sent_at for o in observations), default=_start(store)),
            max((o.sent_at for o in observations), default=_start(store)), window), window, z))
    return fitted


def _start(store: Store) -> datetime:
    start = store.first_scheduled_at()
    assert start is not None  # a plan always has probes
    return start


def _fit_brand(brand: str, observations: list[Observation], clocks: Clocks, window: float,
               z: float) -> BrandCalibration:
    hours = decide(observations, clocks, window)
    seen = hours.eligible
    fit = hours.fit
    notes: list[str] = []
    by_mode: dict[str, list[int]] = defaultdict(list)
    for index, o in enumerate(seen):
        by_mode[o.probe.mention].append(index)
    reply = {}
    for mode in sorted(by_mode):
        members = by_mode[mode]
        k = sum(seen[i].reply_at is not None for i in members)
        coverage = fit.seen_within([hours.windows[i] for i in members]) if fit else 1.0
        reply[mode] = _chance(k, len(members), coverage, z)
    latency = _latency(fit, z) if fit is not None else None
    if not seen:
        notes.append("no first messages sent: nothing to fit (the defaults are kept)")
    elif fit is None:
        notes.append("no replies within the window: reply chance 0 (with its interval); "
                     "latency, off_hours and weekends not fitted (the defaults are kept)")
    elif latency is not None and latency.spread is None:
        notes.append("fewer than two replies above the floor: the spread is not identified "
                     "(the default is kept)")
    replies = fit.replies if fit is not None else 0
    if 0 < replies < FEW_REPLIES:
        notes.append(f"only {replies} replies: the category multipliers, latency and moves rest "
                     "on few messages (see their intervals)")
    if hours.policy[1] == "ignore":
        notes.append("weekends: ignore; messages sent on non-business days are left out of "
                     "every other fit")
    answered = [o for o in seen if o.reply_at is not None]
    moved_email = [o for o in answered if o.email is not None]
    fups = [(at, ok) for o in seen for at, ok in o.follow_ups
            if hours.policy[1] != "ignore" or clocks.business_day(at)]
    return BrandCalibration(
        brand=brand, sent=len(seen), reply=reply, category=_categories(seen, z),
        latency=latency, hours=hours,
        direct_message=_share(sum(o.direct_message for o in answered), len(answered), z),
        email=_share(sum(bool(o.email) for o in moved_email), len(moved_email), z),
        follow_up_reply=_share(sum(ok for _, ok in fups), len(fups), z),
        auto_ack=_auto_ack(seen, z), notes=notes)


def _chance(k: int, n: int, coverage: float, z: float) -> Estimate:
    low, high = wilson(k, n, z) or (0.0, 1.0)
    scale = coverage if coverage > 0 else 1.0
    return Estimate(min(k / n / scale, 1.0), min(low / scale, 1.0), min(high / scale, 1.0),
                    k, n)


def _share(k: int, n: int, z: float) -> Estimate | None:
    if not n:
        return None
    low, high = wilson(k, n, z) or (0.0, 1.0)
    return Estimate(k / n, low, high, k, n)


def _categories(seen: list[Observation], z: float) -> dict[str, Estimate]:
    """Each category's rate over the brand's overall rate (see the module docstring)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in seen:
        counts[o.probe.category][0] += o.reply_at is not None
        counts[o.probe.category][1] += 1
    k_all = sum(k for k, _ in counts.values())
    n_all = sum(n for _, n in counts.values())
    if not k_all:
        return {}
    if len(counts) == 1:
        ((only, (k, n)),) = counts.items()
        return {only: Estimate(1.0, 1.0, 1.0, k, n)}
    result = {}
    for category in sorted(counts):
        k, n = counts[category]
        k_rest, n_rest = k_all - k, n_all - n
        value = (k / n) / (k_all / n_all)
        # Katz log interval of r = p / p_rest (a half added to empty or full cells), turned
        # into the multiplier by c = r * n_all / (n * r + n_rest), which rises with r.
        a, b = (k + 0.5, n + 1) if k in (0, n) else (k, n)
        c, d = (k_rest + 0.5, n_rest + 1) if k_rest in (0, n_rest) else (k_rest, n_rest)
        log_r = math.log((a / b) / (c / d))
        half = z * math.sqrt(max(1 / a - 1 / b + 1 / c - 1 / d, 0.0))

        def multiplier(r: float, n: int = n, n_rest: int = n_rest) -> float:
            return r * n_all / (n * r + n_rest)

        result[category] = Estimate(value, multiplier(math.exp(log_r - half)),
                                    multiplier(math.exp(log_r + half)), k, n)
    return result


def _latency(fit: LatencyFit, z: float) -> LatencyEstimate:
    median_interval = fit.median_interval(z) or (fit.median, fit.median)
    spread = None
    if fit.sigma is not None:
        low, high = fit.spread_interval(z) or (fit.sigma, fit.sigma)
        spread = Estimate(fit.sigma, low, high)
    # The floor: the shortest delay seen is its maximum-likelihood estimate and an upper
    # bound; replies piled up on it (two or more) pin it to the second.
    low = max(fit.minimum - 1.0, 0.0) if fit.at_floor >= 2 else 0.0
    return LatencyEstimate(Estimate(fit.median, *median_interval), spread,
                           Estimate(fit.minimum, low, fit.minimum), fit.replies, fit.at_floor)


def _auto_ack(seen: list[Observation], z: float) -> AutoAckEstimate | None:
    delays = sorted(o.ack_after for o in seen if o.ack_after is not None)
    if not delays:
        return None
    probability = _share(len(delays), len(seen), z)
    assert probability is not None
    n = len(delays)
    # Distribution-free interval of the median: order statistics n/2 -+ z sqrt(n) / 2.
    lower = max(math.floor(n / 2 - z * math.sqrt(n) / 2), 0)
    upper = min(math.ceil(n / 2 + z * math.sqrt(n) / 2), n - 1)
    kinds = Counter(o.ack_kind for o in seen if o.ack_kind is not None)
    return AutoAckEstimate(probability, Estimate(statistics.median(delays), delays[lower],
                                                 delays[upper], n=n),
                           kinds.most_common(1)[0][0])
