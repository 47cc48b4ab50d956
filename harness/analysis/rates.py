"""Response rates as k/n with a Wilson score interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """k of n, with its 95% Wilson interval. A rate is never shown without k and n."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        """k / n, or None when n is 0."""
        return self.k / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson score interval, or None when n is 0."""
        return wilson(self.k, self.n)

    def __str__(self) -> str:
        if not self.n:
            return f"{self.k}/{self.n}"
        low, high = wilson(self.k, self.n) or (0.0, 0.0)
        return f"{self.k}/{self.n} = {self.k / self.n:.0%} (95% CI {low:.0%}-{high:.0%})"


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for k successes in n trials, exact at its edges: 0 of n has a
    lower bound of exactly 0 and n of n an upper bound of exactly 1 (the formula's floating
    point would give a hair above 0 and below 1, and a bar drawn from it a negative length)."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and n, got k={k}, n={n}")
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high
