"""Statistics of benchmark samples: percentiles, and a regression test that noise alone does not fail.

The regression test compares two latency samples with a bootstrap confidence
interval of the ratio of their medians (new over old). ``gates.benchmark``
fails the gate only when the whole interval lies above the accepted slowdown
and the median grew by more than the noise floor. It passes when the median
grew by no more than the noise floor or the interval lies at or below the
slowdown, and is inconclusive otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BOOTSTRAP_ROUNDS = 2000
SEED = 20261204  # fixed, so the same samples always give the same verdict


def percentile(samples: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(samples, dtype=float), q))


@dataclass(frozen=True)
class RatioInterval:
    ratio: float
    low: float
    high: float


def median_ratio_interval(old: Sequence[float], new: Sequence[float], confidence: float) -> RatioInterval:
    """Return the ratio of medians new/old with its bootstrap confidence interval."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    old_array = np.asarray(old, dtype=float)
    new_array = np.asarray(new, dtype=float)
    old_medians = np.median(rng.choice(old_array, size=(BOOTSTRAP_ROUNDS, old_array.size)), axis=1)
    new_medians = np.median(rng.choice(new_array, size=(BOOTSTRAP_ROUNDS, new_array.size)), axis=1)
    ratios = new_medians / old_medians
    tail = (1 - confidence) / 2 * 100
    return RatioInterval(
        ratio=float(np.median(new_array) / np.median(old_array)),
        low=float(np.percentile(ratios, tail)),
        high=float(np.percentile(ratios, 100 - tail)),
    )
