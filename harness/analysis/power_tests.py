"""The verdict rules of :mod:`verdicts`, over many replicates at once (numpy).

- Rate p-values and Newcombe intervals come from :mod:`verdicts` itself, once per distinct
  ``(k1, n1, k2, n2)`` cell seen (:func:`cell_values`); a whole table of Fisher p-values for
  the exact power enumerations is :func:`fisher_table` (checked against ``verdicts`` in the
  tests).
- Mann-Whitney is scipy's ``method="auto"`` recomputed for arrays of replicates
  (:func:`mann_whitney`): exact when either side has at most 8 values and nothing is tied,
  else the normal approximation with tie and continuity corrections.
- Holm's step-down adjustment, row by row (:func:`holm_rows`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from harness.analysis.rates import Rate
from harness.analysis.verdicts import RateTest, difference_interval, rate_p_value

Array = np.ndarray[Any, Any]


def cell_values(k1: Array, n1: int | Array, k2: Array, n2: int | Array,
                test: RateTest) -> tuple[Array, Array, Array]:
    """Per replicate: the exact test's p-value and the Newcombe interval (low, high) of
    k1/n1 minus k2/n2, from :mod:`verdicts`, computed once per distinct cell."""
    n1a = np.broadcast_to(np.asarray(n1, dtype=np.int64), k1.shape)
    n2a = np.broadcast_to(np.asarray(n2, dtype=np.int64), k1.shape)
    cells = np.stack([k1, n1a, k2, n2a], axis=-1).reshape(-1, 4)
    unique, inverse = np.unique(cells, axis=0, return_inverse=True)
    values = np.empty((len(unique), 3))
    for row, (a, b, c, d) in enumerate(unique.tolist()):
        first, second = Rate(a, b), Rate(c, d)
        p = rate_p_value(first, second, test)
        ci = difference_interval(first, second)
        values[row] = (np.nan if p is None else p, *(ci if ci else (np.nan, np.nan)))
    out = values[inverse.reshape(-1)].reshape(*k1.shape, 3)
    return out[..., 0], out[..., 1], out[..., 2]


@lru_cache(maxsize=512)
def fisher_table(n1: int, n2: int) -> Array:
    """Two-sided Fisher p-values of every table k1/n1 against k2/n2, shape (n1+1, n2+1),
    as scipy computes them (the tables no more likely than the observed one, with a relative
    tolerance of 1e-7)."""
    from scipy.special import gammaln

    def log_choose(n: int, k: Array) -> Array:
        return np.asarray(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1))

    table = np.ones((n1 + 1, n2 + 1))
    total = n1 + n2
    k1 = np.arange(n1 + 1)
    for margin in range(total + 1):
        low, high = max(0, margin - n2), min(n1, margin)
        support = k1[low:high + 1]
        pmf = np.exp(log_choose(n1, support) + log_choose(n2, margin - support)
                     - log_choose(total, np.asarray(margin)))
        order = np.sort(pmf)
        cumulative = np.cumsum(order)
        index = np.searchsorted(order, pmf * (1 + 1e-7), side="right") - 1
        table[support, margin - support] = np.minimum(1.0, cumulative[index])
    return table


def holm_rows(p: Array) -> Array:
    """Holm-adjusted p-values of each row of ``p`` (NaN: not in the family)."""
    order = np.argsort(np.where(np.isnan(p), np.inf, p), axis=1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=1)
    present = (~np.isnan(p)).sum(axis=1, keepdims=True)
    factor = present - np.arange(p.shape[1])[None, :]
    scaled = np.minimum(1.0, factor * sorted_p)
    scaled = np.where(np.isnan(sorted_p), np.nan, scaled)
    running = np.fmax.accumulate(np.where(np.isnan(scaled), -np.inf, scaled), axis=1)
    running = np.where(np.isnan(sorted_p), np.nan, running)
    adjusted = np.empty_like(p)
    np.put_along_axis(adjusted, order, running, axis=1)
    return adjusted


@lru_cache(maxsize=256)
def _u_sf(m: int, n: int) -> Array:
    """P(U >= u) for u = 0..m*n under the null, for samples of m and n without ties."""
    counts = np.zeros((m + 1, n + 1, m * n + 1))
    counts[0, :, 0] = 1.0
    counts[:, 0, 0] = 1.0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            # the largest value is from the first sample (adds j to U) or from the second
            counts[i, j, j:] += counts[i - 1, j, : m * n + 1 - j]
            counts[i, j] += counts[i, j - 1]
    pmf = counts[m, n] / counts[m, n].sum()
    return np.cumsum(pmf[::-1])[::-1]


def mann_whitney(a: Array, b: Array) -> Array:
    """Two-sided Mann-Whitney p-values of rows of ``a`` against rows of ``b`` (NaN where a
    value is missing): scipy's ``mannwhitneyu(method="auto")`` per row; NaN where either row
    is empty; 1.0 where every value is the same."""
    rows = a.shape[0]
    result = np.full(rows, np.nan)
    step = max(1, 2_000_000 // max(1, (a.shape[1] + b.shape[1]) ** 2))
    for start in range(0, rows, step):
        part = slice(start, start + step)
        result[part] = _mann_whitney_chunk(a[part], b[part])
    return result


def _mann_whitney_chunk(a: Array, b: Array) -> Array:
    from scipy.special import ndtr

    va, vb = ~np.isnan(a), ~np.isnan(b)
    m, n = va.sum(axis=1), vb.sum(axis=1)
    pair = va[:, :, None] & vb[:, None, :]
    greater = (a[:, :, None] > b[:, None, :]) & pair
    equal = (a[:, :, None] == b[:, None, :]) & pair
    u1 = greater.sum(axis=(1, 2)) + 0.5 * equal.sum(axis=(1, 2))
    u = np.maximum(u1, m * n - u1)
    # ties: each value's count of equal values in the pooled sample, c; sum(c^2 - 1) is the
    # sum over tie groups of t^3 - t
    equal_a = ((a[:, :, None] == a[:, None, :]) & va[:, :, None] & va[:, None, :]).sum(axis=2)
    equal_b = ((b[:, :, None] == b[:, None, :]) & vb[:, :, None] & vb[:, None, :]).sum(axis=2)
    count_a = np.where(va, equal_a + equal.sum(axis=2), 0)
    count_b = np.where(vb, equal_b + equal.sum(axis=1), 0)
    tie_term = (np.where(va, count_a**2 - 1, 0).sum(axis=1)
                + np.where(vb, count_b**2 - 1, 0).sum(axis=1)).astype(float)
    total = m + n
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(m * n / 12 * ((total + 1) - tie_term / (total * (total - 1))))
        z = (u - m * n / 2 - 0.5) / sigma
    p = np.clip(2 * ndtr(-z), 0.0, 1.0)
    exact = ((m <= 8) | (n <= 8)) & (tie_term == 0) & (m > 0) & (n > 0)
    for mm, nn in {(int(x), int(y)) for x, y in zip(m[exact], n[exact], strict=True)}:
        rows = exact & (m == mm) & (n == nn)
        sf = _u_sf(min(mm, nn), max(mm, nn))
        p[rows] = np.clip(2 * sf[u[rows].astype(np.int64)], 0.0, 1.0)
    spread = np.nanmax(np.concatenate([a, b], axis=1), axis=1, initial=-np.inf) - np.nanmin(
        np.concatenate([a, b], axis=1), axis=1, initial=np.inf)
    p = np.where(spread == 0, 1.0, p)
    p = np.where(np.isfinite(p), p, 1.0)
    return np.where((m > 0) & (n > 0), p, np.nan)
