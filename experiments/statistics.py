"""Statistics on plain numbers: intervals, tests, uplift, and the JSON-safe value helpers.

Pure functions (numbers in, numbers out; no Django, no database): `wilson_interval`, `mean_ci`,
`two_proportion_z_test`, `proportion_difference`, `ratio_uplift`, `welch_difference`, and
`as_float` / `interval` / `json_safe`, which make results plain Python values (non-finite floats
become None). `experiments.report` builds the A/B report from them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np

CONFIDENCE = 0.95

Interval = tuple[float, float]


# --- Small helpers ----------------------------------------------------------------------------


def _stats():
    """`scipy.stats`, imported on first use: its import takes about 0.4 s, which every process
    that loads the admin (a web worker, the import command) would pay before its first request."""
    from scipy import stats

    return stats


def _z(confidence: float = CONFIDENCE) -> float:
    return float(_stats().norm.ppf(0.5 + confidence / 2))


def as_float(value) -> float | None:
    """A finite Python float, or None (for None, NaN and infinities)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def interval(low, high) -> list[float] | None:
    """[low, high] as finite floats, or None when either end is missing or not finite."""
    low, high = as_float(low), as_float(high)
    return None if low is None or high is None else [low, high]


def json_safe(value):
    """`value` with numpy scalars/arrays made plain and non-finite floats made None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return as_float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- Intervals and tests ----------------------------------------------------------------------


def proportion(successes: float, n: float) -> float | None:
    return None if n <= 0 else successes / n


def wilson_interval(successes: float, n: float, confidence: float = CONFIDENCE) -> Interval | None:
    """Wilson score interval for a binomial proportion (None when n = 0)."""
    if n <= 0:
        return None
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_ci(
    values: Iterable[float], confidence: float = CONFIDENCE
) -> tuple[float | None, Interval | None]:
    """The mean and its t interval (mean None with no values, interval None with one)."""
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, float)
    n = array.size
    if n == 0:
        return None, None
    mean = float(array.mean())
    if n == 1:
        return mean, None
    sem = float(array.std(ddof=1)) / math.sqrt(n)
    half = float(_stats().t.ppf(0.5 + confidence / 2, n - 1)) * sem
    return mean, (mean - half, mean + half)


def two_proportion_z_test(
    x_a: float, n_a: float, x_b: float, n_b: float
) -> tuple[float | None, float | None]:
    """Two-sided pooled z-test of p_a = p_b: (z, p-value); (None, None) if a sample is empty.

    When both proportions are 0 (or both 1) there is no evidence of a difference: z = 0, p = 1.
    """
    if n_a <= 0 or n_b <= 0:
        return None, None
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 0.0, 1.0
    z = (p_b - p_a) / se
    return z, float(2 * _stats().norm.sf(abs(z)))


def proportion_difference(
    x_a: float, n_a: float, x_b: float, n_b: float, confidence: float = CONFIDENCE
) -> tuple[float | None, Interval | None]:
    """p_b − p_a with its (unpooled) Wald interval, clipped to [−1, 1]."""
    if n_a <= 0 or n_b <= 0:
        return None, None
    p_a, p_b = x_a / n_a, x_b / n_b
    difference = p_b - p_a
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    half = _z(confidence) * se
    return difference, (max(-1.0, difference - half), min(1.0, difference + half))


def ratio_uplift(
    x_a: float, n_a: float, x_b: float, n_b: float, confidence: float = CONFIDENCE
) -> tuple[float | None, Interval | None]:
    """Relative uplift p_b / p_a − 1 with a delta-method interval on log(p_b / p_a).

    Var(log p̂) ≈ (1 − p) / (n p), so the log ratio has variance (1−p_a)/x_a + (1−p_b)/x_b.
    The uplift is None when p_a = 0; the interval also needs p_b > 0.
    """
    if n_a <= 0 or n_b <= 0 or x_a <= 0:
        return None, None
    p_a, p_b = x_a / n_a, x_b / n_b
    uplift = p_b / p_a - 1
    if x_b <= 0:
        return uplift, None
    se = math.sqrt((1 - p_a) / x_a + (1 - p_b) / x_b)
    log_ratio = math.log(p_b / p_a)
    half = _z(confidence) * se
    return uplift, (math.exp(log_ratio - half) - 1, math.exp(log_ratio + half) - 1)


def welch_difference(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE
) -> dict:
    """mean(b) − mean(a) with a Welch t interval and two-sided p-value (None below 2 each)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    result = {"a": as_float(a.mean()) if a.size else None}
    result["b"] = as_float(b.mean()) if b.size else None
    result.update(difference=None, difference_ci=None, p_value=None)
    if a.size == 0 or b.size == 0:
        return result
    difference = float(b.mean() - a.mean())
    result["difference"] = difference
    if a.size < 2 or b.size < 2:
        return result
    var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(var_a + var_b)
    if se == 0:
        result["difference_ci"] = [difference, difference]
        result["p_value"] = 1.0 if difference == 0 else 0.0
        return result
    df = (var_a + var_b) ** 2 / (var_a**2 / (a.size - 1) + var_b**2 / (b.size - 1))
    t = difference / se
    half = float(_stats().t.ppf(0.5 + confidence / 2, df)) * se
    result["difference_ci"] = [difference - half, difference + half]
    result["p_value"] = float(2 * _stats().t.sf(abs(t), df))
    return result


#: a split this unlikely under the weights means the assignment or the logging is broken (or
#: steered): the usual threshold of online experiment platforms
SAMPLE_RATIO_ALPHA = 0.001


def sample_ratio_test(counts: Sequence[int], weights: Sequence[float]) -> float | None:
    """p-value of a chi-square goodness-of-fit test of visitors per variant (`counts`) against
    the share the weights promise; None with fewer than two variants or no visitors."""
    observed = np.asarray(counts, float)
    shares = np.asarray(weights, float)
    if observed.size < 2 or observed.sum() == 0 or shares.sum() <= 0:
        return None
    expected = shares / shares.sum() * observed.sum()
    return float(_stats().chisquare(observed, expected).pvalue)
