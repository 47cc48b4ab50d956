"""The log-normal reply delay with a floor, fitted to replies seen within a window.

The simulated brand's delay is ``max(median * exp(spread * N(0, 1)), minimum)``. Replies are
only seen when they come within the observation window, and a probe left unanswered may be one
the brand ignored or one it would have answered later: which, the data cannot say. So the fit
conditions on being seen: each reply's delay ``d`` contributes ``f(d) / F(w)``, with ``w`` the
delay its window allowed (the likelihood of a right-truncated sample; it does not depend on the
reply chance, and the reply chance is then corrected by ``F(w)``). Two or more replies tied at
the shortest delay are the floor's atom: each contributes ``P(delay <= minimum)``. Delays are
in seconds, so a density and the atom's probability share one unit (a one-second bin).

The estimates maximise that likelihood (scipy.optimize); their intervals are Wald intervals
from the observed information (a numerical Hessian in ``mu`` and ``log sigma``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

FLOOR_TIE_S = 0.5
"""Delays within this of the shortest one tie with it (timestamps have whole seconds)."""
FLOOR_TIES = 2
"""Replies tied at the shortest delay that make it the floor's atom (one alone is a reply
like any other)."""


@dataclass(frozen=True)
class LatencyFit:
    """A fitted delay: the log-normal's ``mu`` and ``sigma`` (of the log of seconds), their
    standard errors, the floor and how many replies sat on it."""

    mu: float
    sigma: float | None
    """``None`` when fewer than two replies above the floor leave it unidentified."""
    se_mu: float | None
    se_log_sigma: float | None
    minimum: float
    """The shortest delay seen: the floor's estimate, and an upper bound of it."""
    at_floor: int
    """Replies tied at the floor when they make its atom (two or more), else 0."""
    replies: int
    log_likelihood: float

    @property
    def median(self) -> float:
        """The log-normal's median, in seconds."""
        return math.exp(self.mu)

    def median_interval(self, z: float) -> tuple[float, float] | None:
        """The Wald interval of the median (``exp(mu +- z se)``), in seconds."""
        if self.se_mu is None:
            return None
        return math.exp(self.mu - z * self.se_mu), math.exp(self.mu + z * self.se_mu)

    def spread_interval(self, z: float) -> tuple[float, float] | None:
        """The Wald interval of sigma, taken on the log scale."""
        if self.sigma is None or self.se_log_sigma is None:
            return None
        return (self.sigma * math.exp(-z * self.se_log_sigma),
                self.sigma * math.exp(z * self.se_log_sigma))

    def seen_within(self, windows: Sequence[float]) -> float:
        """The mean chance that a reply comes within each of ``windows`` (seconds)."""
        if not windows:
            return 1.0
        sigma = self.sigma or 1e-9
        w = np.maximum(np.asarray(windows, dtype=float), 1.0)
        seen = norm.cdf((np.log(w) - self.mu) / sigma)
        if self.at_floor:  # nothing comes before the floor
            seen = np.where(w >= self.minimum, seen, 0.0)
        return float(np.mean(seen))

    def log_density(self, delays: Sequence[float], windows: Sequence[float]) -> np.ndarray:
        """Each reply's log-likelihood given it was seen: ``log f(d) - log F(w)`` (the floor's
        atom for delays at the floor)."""
        d = np.maximum(np.asarray(delays, dtype=float), 1.0)
        w = np.maximum(np.asarray(windows, dtype=float), 1.0)
        sigma = self.sigma or _sigma_of(d)
        return _terms(d, w, self.mu, sigma, self.minimum if self.at_floor else None)


def fit_latency(delays: Sequence[float], windows: Sequence[float]) -> LatencyFit | None:
    """The maximum-likelihood delay for replies seen after ``delays`` seconds, each within its
    window of ``windows`` seconds (``None`` without replies)."""
    if not delays:
        return None
    d = np.maximum(np.asarray(delays, dtype=float), 1.0)
    w = np.maximum(np.asarray(windows, dtype=float), d)
    shortest = float(d.min())
    ties = int(np.sum(d <= shortest + FLOOR_TIE_S))
    floor = shortest if ties >= FLOOR_TIES else None
    above = d[d > shortest + FLOOR_TIE_S] if floor is not None else d
    logs = np.log(d)
    if np.unique(above).size < 2:  # sigma unidentified: the median of what was seen
        mu = float(np.median(logs))
        return LatencyFit(mu, None, None, None, shortest, ties if floor is not None else 0,
                          int(d.size), float(np.sum(_terms(d, w, mu, _sigma_of(d), floor))))

    def negative(theta: np.ndarray) -> float:
        value = -float(np.sum(_terms(d, w, float(theta[0]), math.exp(theta[1]), floor)))
        return value if math.isfinite(value) else 1e300

    start = np.array([float(np.mean(logs)), math.log(_sigma_of(d))])
    found = minimize(negative, start, method="Nelder-Mead",
                     options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
    theta = found.x
    covariance = _inverse_hessian(negative, theta)
    se_mu = se_log_sigma = None
    if covariance is not None:
        se_mu, se_log_sigma = (math.sqrt(covariance[0, 0]), math.sqrt(covariance[1, 1]))
    return LatencyFit(float(theta[0]), math.exp(float(theta[1])), se_mu, se_log_sigma,
                      shortest, ties if floor is not None else 0, int(d.size), -float(found.fun))


def _terms(d: np.ndarray, w: np.ndarray, mu: float, sigma: float,
           floor: float | None) -> np.ndarray:
    z = (np.log(d) - mu) / sigma
    density = norm.logpdf(z) - math.log(sigma) - np.log(d)
    seen = norm.logcdf((np.log(w) - mu) / sigma)
    if floor is None:
        return np.asarray(density - seen)
    atom = norm.logcdf((math.log(floor) - mu) / sigma)
    return np.asarray(np.where(d <= floor + FLOOR_TIE_S, atom, density) - seen)


def _sigma_of(d: np.ndarray) -> float:
    spread = float(np.std(np.log(d))) if d.size > 1 else 0.0
    return spread if spread > 0.05 else 1.0


def _inverse_hessian(f: Callable[[np.ndarray], float], theta: np.ndarray,
                     step: float = 1e-4) -> np.ndarray | None:
    """The inverse of a central-difference Hessian of ``function`` at ``theta``, or ``None``
    when it is not positive definite (no curvature: no interval)."""
    size = theta.size
    hessian = np.zeros((size, size))
    for i in range(size):
        for j in range(i, size):
            ei, ej = np.eye(size)[i] * step, np.eye(size)[j] * step
            value = (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej)
                     + f(theta - ei - ej)) / (4 * step * step)
            hessian[i, j] = hessian[j, i] = value
    try:
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(covariance)) or np.any(np.diag(covariance) <= 0):
        return None
    return covariance
