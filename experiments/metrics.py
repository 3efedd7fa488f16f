"""Experiment analytics: what the A/B test measured, as plain functions over plain data.

Three layers:

1. Statistics on numbers (`wilson_interval`, `mean_ci`, `two_proportion_z_test`,
   `ratio_uplift`, `welch_difference`) and ranking metrics on ranked lists (`precision_at_k`,
   `recall_at_k`, `reciprocal_rank`, `ndcg_at_k` for one list; `ranking_metrics` for many at
   once, vectorised), `roc_auc`, `calibration_error`, `click_curve`, `daily_ctr`.
2. `load_events(experiment)`: one pass over the event tables (four queries) into `EventData`,
   flat numpy arrays; no per-row ORM work.
3. `build_report(data, experiment_info)` and `experiment_report(experiment)`: the JSON-safe dict
   that the command, the API and the admin dashboard all show.

Definitions (per variant):

- impressions: recommendation lists a browser reported as shown; clicks: followed items.
- CTR: clicks per impression (can exceed 1 when several items of a list are followed); its 95 %
  interval is the t interval of the mean of per-impression click counts.
- CTP (click-through probability): share of impressions with at least one click; Wilson interval.
- visits: distinct visit ids (30-minute sliding cookie sessions) with any event of the variant
  (impression, click or time on page), so the `none` variant, which shows no list, has visits.
  Visitors likewise, by visitor id.
- clicks per visit: recommendation clicks per visit, over all visits of the variant (visits
  without a click count as 0); t interval.
- seconds per visit: the summed time-on-page of a visit, averaged over the visits that sent at
  least one time beacon (a visit without one has unknown, not zero, time); t interval.

Comparisons: every pair (a, b) of variants, a before b in the report's order (the experiment's
variant order: put the control first). The primary metric is CTP: `difference` = CTP(b) − CTP(a)
with a Wald interval, `uplift` = CTP(b) / CTP(a) − 1 with a delta-method interval on the log
ratio, and `p_value` from a two-sided pooled two-proportion z-test. Business metrics (clicks and
seconds per visit) are compared with Welch's t-test, which also works against `none`.

Ranking metrics treat each impression as a ranked list (position 1 first) whose clicked items are
the relevant ones. precision@k, recall@k, MRR and nDCG@k average over the impressions with at
least one clicked item (recall is undefined without one; CTP already measures whether there is
one), so they measure where in the list the clicks land. precision@k divides by the number of
items shown in the top k (min(k, list length)). ROC AUC takes every shown item: its score against
whether it was clicked. MAE / RMSE measure calibration: a logistic regression of click on score
is fitted to the variant's items; the items are split into score deciles (one bucket per
distinct score when there are at most ten), and the errors compare the mean predicted click
probability with the observed click rate per bucket (unweighted over buckets). Near 0 means the
click rate follows the score smoothly and monotonically.

Every float in the report is a plain Python float or None (undefined: no data, one class, …).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RANKING_KS = (5, 10)
NDCG_K = 10
CALIBRATION_BUCKETS = 10

Interval = tuple[float, float]


# --- Small helpers ----------------------------------------------------------------------------


def _z(confidence: float = CONFIDENCE) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def as_float(value) -> float | None:
    """A finite Python float, or None (for None, NaN and infinities)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _interval(low, high) -> list[float] | None:
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
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sem
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
    return z, float(2 * stats.norm.sf(abs(z)))


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
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    result["difference_ci"] = [difference - half, difference + half]
    result["p_value"] = float(2 * stats.t.sf(abs(t), df))
    return result


# --- Ranking metrics: one list ----------------------------------------------------------------
# `relevance` is a list's items in the order shown (position 1 first), 1 = clicked.


def precision_at_k(relevance: Sequence[int], k: int) -> float | None:
    """Clicked share of the top k items shown (of min(k, length) items); None for an empty list."""
    top = list(relevance)[:k]
    return sum(1 for r in top if r) / len(top) if top else None


def recall_at_k(relevance: Sequence[int], k: int) -> float | None:
    """Share of the list's clicked items that are in its top k (None without a click)."""
    relevance = list(relevance)
    total = sum(1 for r in relevance if r)
    return sum(1 for r in relevance[:k] if r) / total if total else None


def reciprocal_rank(relevance: Sequence[int]) -> float:
    """1 / position of the first clicked item (0 without a click)."""
    for index, r in enumerate(relevance):
        if r:
            return 1 / (index + 1)
    return 0.0


def ndcg_at_k(relevance: Sequence[int], k: int) -> float | None:
    """Binary nDCG@k: Σ rel_i / log2(i + 1) over the top k, over the same for the ideal order."""
    relevance = [1 if r else 0 for r in relevance]
    total = sum(relevance)
    if not total:
        return None
    dcg = sum(r / math.log2(i + 2) for i, r in enumerate(relevance[:k]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(total, k)))
    return dcg / ideal


# --- Ranking metrics: many lists at once ------------------------------------------------------


def ranking_metrics(
    list_ids: Sequence[int] | np.ndarray,
    positions: Sequence[int] | np.ndarray,
    clicked: Sequence[bool] | np.ndarray,
    ks: Sequence[int] = RANKING_KS,
    ndcg_k: int = NDCG_K,
) -> dict:
    """The mean precision@k, recall@k, MRR and nDCG@k over many lists, without a Python loop.

    One row per shown item: the list (impression) it belongs to, its 1-based position and whether
    it was clicked. Only lists with at least one clicked item count (see the module docstring);
    `lists` says how many did. Equal to averaging the one-list functions over those lists.
    """
    ids = np.asarray(list_ids)
    pos = np.asarray(positions, dtype=np.int64)
    hit = np.asarray(clicked, dtype=bool)
    keys = [f"precision@{k}" for k in ks] + [f"recall@{k}" for k in ks]
    out: dict = {"lists": 0, **dict.fromkeys(keys), "mrr": None, f"ndcg@{ndcg_k}": None}
    if ids.size == 0:
        return out
    _, inverse = np.unique(ids, return_inverse=True)
    n = int(inverse.max()) + 1
    relevant = np.bincount(inverse, weights=hit, minlength=n)
    keep = relevant > 0
    out["lists"] = int(keep.sum())
    if not out["lists"]:
        return out
    for k in ks:
        top = pos <= k
        shown = np.bincount(inverse, weights=top, minlength=n)[keep]
        hits = np.bincount(inverse, weights=top & hit, minlength=n)[keep]
        out[f"precision@{k}"] = float(np.mean(hits / np.maximum(shown, 1)))
        out[f"recall@{k}"] = float(np.mean(hits / relevant[keep]))
    first = np.full(n, np.inf)
    np.minimum.at(first, inverse[hit], pos[hit])
    out["mrr"] = float(np.mean(1.0 / first[keep]))
    in_top = hit & (pos <= ndcg_k) & (pos >= 1)
    gains = np.zeros(pos.size)
    gains[in_top] = 1.0 / np.log2(pos[in_top] + 1)
    dcg = np.bincount(inverse, weights=gains, minlength=n)[keep]
    ideal_table = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, ndcg_k + 2)))])
    ideal = ideal_table[np.minimum(relevant[keep], ndcg_k).astype(int)]
    out[f"ndcg@{ndcg_k}"] = float(np.mean(dcg / ideal))
    return out


def roc_auc(scores: Sequence[float] | np.ndarray, clicked: Sequence[bool] | np.ndarray):
    """ROC AUC of item score as a predictor of a click (None with only one class or no scores)."""
    from sklearn.metrics import roc_auc_score

    s = np.asarray(scores, dtype=float)
    y = np.asarray(clicked, dtype=bool)
    finite = np.isfinite(s)
    s, y = s[finite], y[finite]
    if s.size == 0 or y.all() or not y.any():
        return None
    return float(roc_auc_score(y, s))


def calibration_error(
    scores: Sequence[float] | np.ndarray,
    clicked: Sequence[bool] | np.ndarray,
    buckets: int = CALIBRATION_BUCKETS,
    predicted: Sequence[float] | np.ndarray | None = None,
) -> dict:
    """MAE and RMSE of predicted vs. observed click rate per score bucket.

    Predictor (unless `predicted` gives each item's probability): a logistic regression of click
    on score (one feature, standardised, nearly unregularised) fitted to these items. Buckets:
    score deciles, or one bucket per distinct score when there are at most `buckets` of them.
    Per bucket, `predicted` is the mean predicted probability and `observed` the click rate;
    MAE/RMSE are the unweighted mean absolute / root mean squared differences over buckets.
    None without items, or when every item has the same outcome and nothing is to be fitted.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(clicked, dtype=bool)
    finite = np.isfinite(s)
    s, y = s[finite], y[finite]
    empty = {"mae": None, "rmse": None, "buckets": []}
    if s.size == 0:
        return empty
    if predicted is None:
        if y.all() or not y.any():
            return empty
        probability = _logistic_fit_predict(s, y)
    else:
        probability = np.asarray(predicted, dtype=float)[finite]
    distinct = np.unique(s)
    if distinct.size <= buckets:
        bucket = np.searchsorted(distinct, s)
        lows = highs = distinct
    else:
        edges = np.unique(np.quantile(s, np.linspace(0, 1, buckets + 1)))
        bucket = np.searchsorted(edges[1:-1], s, side="right")
        lows, highs = edges[:-1], edges[1:]
    count = np.bincount(bucket, minlength=lows.size)
    used = np.flatnonzero(count > 0)
    mean_predicted = np.bincount(bucket, weights=probability, minlength=lows.size)[used]
    observed = np.bincount(bucket, weights=y, minlength=lows.size)[used]
    mean_predicted, observed = mean_predicted / count[used], observed / count[used]
    errors = mean_predicted - observed
    rows = [
        {
            "low": float(lows[i]),
            "high": float(highs[i]),
            "items": int(count[i]),
            "predicted": float(p),
            "observed": float(o),
        }
        for i, p, o in zip(used, mean_predicted, observed, strict=True)
    ]
    return {
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "buckets": rows,
    }


def _logistic_fit_predict(scores: np.ndarray, clicked: np.ndarray) -> np.ndarray:
    """P(click | score) from a logistic regression, fitted on distinct (score, click) pairs with
    their counts as weights (fast on a million items)."""
    from sklearn.linear_model import LogisticRegression

    std = scores.std()
    x = (scores - scores.mean()) / (std if std > 0 else 1.0)
    pairs, counts = np.unique(np.column_stack([x, clicked]), axis=0, return_counts=True)
    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(pairs[:, :1], pairs[:, 1].astype(int), sample_weight=counts)
    return model.predict_proba(x[:, None])[:, 1]


# --- Curves for the dashboard -----------------------------------------------------------------


def click_curve(positions: Sequence[int] | np.ndarray, clicked: Sequence[bool] | np.ndarray):
    """Per position: lists that showed an item there, clicks on it, and its click rate."""
    pos = np.asarray(positions, dtype=np.int64)
    hit = np.asarray(clicked, dtype=bool)
    if pos.size == 0:
        return []
    values, inverse = np.unique(pos, return_inverse=True)
    shown = np.bincount(inverse, minlength=values.size)
    clicks = np.bincount(inverse, weights=hit, minlength=values.size)
    return [
        {"position": int(p), "impressions": int(n), "clicks": int(c), "ctr": float(c / n)}
        for p, n, c in zip(values, shown, clicks, strict=True)
    ]


def daily_ctr(days: Sequence | np.ndarray, clicks: Sequence[int] | np.ndarray):
    """Per day (of the impression): impressions, clicks, CTR and CTP."""
    day = np.asarray(days, dtype="datetime64[D]")
    count = np.asarray(clicks, dtype=np.int64)
    if day.size == 0:
        return []
    values, inverse = np.unique(day, return_inverse=True)
    impressions = np.bincount(inverse, minlength=values.size)
    total = np.bincount(inverse, weights=count, minlength=values.size)
    clicked = np.bincount(inverse, weights=count > 0, minlength=values.size)
    return [
        {
            "day": str(d),
            "impressions": int(n),
            "clicks": int(c),
            "ctr": float(c / n),
            "ctp": float(k / n),
        }
        for d, n, c, k in zip(values, impressions, total, clicked, strict=True)
    ]


# --- Loading the event tables -----------------------------------------------------------------


def _strings(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@dataclass
class EventData:
    """The event tables of one experiment (or all of them) as flat arrays.

    Impressions are rows 0…n−1; items and clicks refer to them by row (`item_impression`,
    `click_impression`). Page times are summed per (variant, visit) already.
    """

    variants: list[tuple[str, str]] = field(default_factory=list)  # (name, strategy), in order
    imp_variant: np.ndarray = field(default_factory=lambda: _strings([]))
    imp_strategy: np.ndarray = field(default_factory=lambda: _strings([]))
    imp_visitor: np.ndarray = field(default_factory=lambda: _strings([]))
    imp_visit: np.ndarray = field(default_factory=lambda: _strings([]))
    imp_day: np.ndarray = field(default_factory=lambda: np.array([], dtype="datetime64[D]"))
    item_impression: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    item_position: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    item_score: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))
    click_impression: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    click_position: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    click_visitor: np.ndarray = field(default_factory=lambda: _strings([]))
    click_visit: np.ndarray = field(default_factory=lambda: _strings([]))
    time_variant: np.ndarray = field(default_factory=lambda: _strings([]))
    time_visitor: np.ndarray = field(default_factory=lambda: _strings([]))
    time_visit: np.ndarray = field(default_factory=lambda: _strings([]))
    time_seconds: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))

    @classmethod
    def from_rows(
        cls,
        impressions: Sequence[dict],
        clicks: Sequence[dict] = (),
        page_times: Sequence[dict] = (),
        variants: Sequence[tuple[str, str]] | None = None,
    ) -> EventData:
        """Build from plain dicts (tests, imports).

        impressions: {"variant", "visitor", "visit", "day" (date or "YYYY-MM-DD"), "items":
        [{"photo", "position", "score"}], optional "strategy"}; clicks: {"impression" (row
        index), "position", "visitor", "visit"}; page_times: {"variant", "visitor", "visit",
        "seconds"} (several rows of one visit are summed).
        """
        data = cls()
        data.imp_variant = _strings([i["variant"] for i in impressions])
        data.imp_strategy = _strings([i.get("strategy", "") for i in impressions])
        data.imp_visitor = _strings([i.get("visitor", "") for i in impressions])
        data.imp_visit = _strings([i.get("visit", "") for i in impressions])
        data.imp_day = np.array([str(i["day"]) for i in impressions], dtype="datetime64[D]")
        data._set_items([i.get("items") or [] for i in impressions])
        data.click_impression = np.array([c["impression"] for c in clicks], dtype=np.int64)
        data.click_position = np.array([c["position"] for c in clicks], dtype=np.int64)
        data.click_visitor = _strings([c.get("visitor", "") for c in clicks])
        data.click_visit = _strings([c.get("visit", "") for c in clicks])
        summed: dict[tuple[str, str, str], float] = {}
        for row in page_times:
            key = (row["variant"], row.get("visitor", ""), row["visit"])
            summed[key] = summed.get(key, 0.0) + float(row["seconds"])
        data._set_times(list(summed), list(summed.values()))
        data.variants = list(variants) if variants is not None else data.observed_variants()
        return data

    def _set_items(self, lists: list[list]) -> None:
        lengths = np.fromiter((len(items) for items in lists), dtype=np.int64, count=len(lists))
        flat = [item for items in lists for item in items]
        self.item_impression = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
        self.item_position = np.fromiter(
            (int(item.get("position") or 0) for item in flat), dtype=np.int64, count=len(flat)
        )
        self.item_score = np.fromiter(
            (_score(item.get("score")) for item in flat), dtype=float, count=len(flat)
        )

    def _set_times(self, keys: list[tuple[str, str, str]], seconds: list[float]) -> None:
        self.time_variant = _strings([k[0] for k in keys])
        self.time_visitor = _strings([k[1] for k in keys])
        self.time_visit = _strings([k[2] for k in keys])
        self.time_seconds = np.asarray(seconds, dtype=float)

    # Derived arrays ---------------------------------------------------------------------------

    @property
    def n_impressions(self) -> int:
        return int(self.imp_variant.size)

    @property
    def click_variant(self) -> np.ndarray:
        """Each click's variant: its impression's."""
        return self.imp_variant[self.click_impression]

    @property
    def item_variant(self) -> np.ndarray:
        """Each shown item's variant: its impression's."""
        return self.imp_variant[self.item_impression]

    @property
    def clicks_per_impression(self) -> np.ndarray:
        return np.bincount(self.click_impression, minlength=self.n_impressions).astype(np.int64)

    @property
    def item_clicked(self) -> np.ndarray:
        """Whether each shown item was clicked: its (impression, position) has a click row."""
        if not self.item_impression.size or not self.click_impression.size:
            return np.zeros(self.item_impression.size, dtype=bool)
        width = int(max(self.item_position.max(initial=0), self.click_position.max())) + 1
        item_keys = self.item_impression * width + self.item_position
        click_keys = self.click_impression * width + self.click_position
        return np.isin(item_keys, click_keys)

    def observed_variants(self) -> list[tuple[str, str]]:
        """Every variant name in the events with its usual strategy (strategies first in the
        order of `Strategy`, other names alphabetically)."""
        names = set(self.imp_variant.tolist()) | set(self.time_variant.tolist())
        names |= set(self.click_variant.tolist())
        return [(name, self.strategy_of(name)) for name in _variant_order(names)]

    def strategy_of(self, name: str) -> str:
        strategies = Counter(self.imp_strategy[self.imp_variant == name].tolist())
        strategies.pop("", None)
        if strategies:
            return strategies.most_common(1)[0][0]
        from .models import Strategy

        return name if name in Strategy.values else ""


def _score(value) -> float:
    number = as_float(value)
    return math.nan if number is None else number


def _variant_order(names: Iterable[str]) -> list[str]:
    from .models import Strategy

    order = {value: index for index, value in enumerate(Strategy.values)}
    return sorted(names, key=lambda n: (0, order[n], "") if n in order else (1, 0, n))


def load_events(experiment=None) -> EventData:
    """Read the event tables of `experiment` (all events when None) into `EventData`.

    Four queries: experiment variants, impressions (with their items), clicks, page times summed
    per visit in the database. Events of a variant name the experiment no longer has are kept and
    reported after its variants.
    """
    from django.db.models import Sum
    from django.db.models.functions import TruncDate

    from .models import Click, Impression, PageTime

    impressions = Impression.objects.order_by("id")
    clicks = Click.objects.order_by()
    times = PageTime.objects.order_by()
    if experiment is not None:
        impressions = impressions.filter(experiment=experiment)
        clicks = clicks.filter(impression__experiment=experiment)
        times = times.filter(experiment=experiment)

    rows = list(
        impressions.annotate(day=TruncDate("created_at")).values_list(
            "id", "variant", "strategy", "visitor_id", "visit_id", "day", "items"
        )
    )
    data = EventData()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    data.imp_variant = _strings([r[1] for r in rows])
    data.imp_strategy = _strings([r[2] for r in rows])
    data.imp_visitor = _strings([r[3] for r in rows])
    data.imp_visit = _strings([r[4] for r in rows])
    data.imp_day = np.array([r[5] for r in rows], dtype="datetime64[D]")
    data._set_items([r[6] if isinstance(r[6], list) else [] for r in rows])

    click_rows = list(clicks.values_list("impression_id", "position", "visitor_id", "visit_id"))
    click_ids = np.fromiter((r[0] for r in click_rows), dtype=np.int64, count=len(click_rows))
    index = np.searchsorted(ids, click_ids)
    known = np.zeros(click_ids.size, dtype=bool)
    if ids.size:  # ids are sorted: a click's impression is where searchsorted lands
        known = ids[np.minimum(index, ids.size - 1)] == click_ids
    data.click_impression = index[known].astype(np.int64)
    data.click_position = np.fromiter(
        (r[1] for r in click_rows), dtype=np.int64, count=len(click_rows)
    )[known]
    data.click_visitor = _strings([r[2] for r in click_rows])[known]
    data.click_visit = _strings([r[3] for r in click_rows])[known]

    visit_rows = list(
        times.values("variant", "visitor_id", "visit_id")
        .annotate(total=Sum("seconds"))
        .values_list("variant", "visitor_id", "visit_id", "total")
    )
    data._set_times([r[:3] for r in visit_rows], [r[3] or 0.0 for r in visit_rows])

    observed = data.observed_variants()
    if experiment is None:
        data.variants = observed
    else:
        declared = [(v.name, v.strategy) for v in experiment.variants.order_by("id")]
        names = {name for name, _ in declared}
        data.variants = declared + [(n, s) for n, s in observed if n not in names]
    return data


# --- The report -------------------------------------------------------------------------------


def variant_summary(data: EventData, name: str, strategy: str) -> tuple[dict, dict]:
    """The per-variant row of the report, plus the per-visit arrays the comparisons need."""
    in_variant = data.imp_variant == name
    per_impression = data.clicks_per_impression[in_variant]
    n = int(per_impression.size)
    clicks = int(per_impression.sum())
    clicked = int(np.count_nonzero(per_impression))
    click_in_variant = data.click_variant == name
    time_in_variant = data.time_variant == name

    visitors = set(data.imp_visitor[in_variant].tolist())
    visitors |= set(data.click_visitor[click_in_variant].tolist())
    visitors |= set(data.time_visitor[time_in_variant].tolist())
    visitors.discard("")
    visits = set(data.imp_visit[in_variant].tolist())
    visits |= set(data.click_visit[click_in_variant].tolist())
    visits |= set(data.time_visit[time_in_variant].tolist())
    visits.discard("")

    clicks_by_visit = Counter(data.click_visit[click_in_variant].tolist())
    clicks_per_visit = np.array([clicks_by_visit.get(v, 0) for v in visits], dtype=float)
    seconds_per_visit = data.time_seconds[time_in_variant & (data.time_visit != "")]

    ctr, ctr_ci = mean_ci(per_impression)
    cpv, cpv_ci = mean_ci(clicks_per_visit)
    spv, spv_ci = mean_ci(seconds_per_visit)
    row = {
        "name": name,
        "strategy": strategy,
        "visitors": len(visitors),
        "visits": len(visits),
        "impressions": n,
        "clicks": clicks,
        "impressions_clicked": clicked,
        "ctr": ctr,
        "ctr_ci": _interval(max(0.0, ctr_ci[0]), ctr_ci[1]) if ctr_ci else None,
        "ctp": proportion(clicked, n),
        "ctp_ci": _interval(*wilson_interval(clicked, n)) if n else None,
        "clicks_per_visit": cpv,
        "clicks_per_visit_ci": _interval(max(0.0, cpv_ci[0]), cpv_ci[1]) if cpv_ci else None,
        "seconds_per_visit": spv,
        "seconds_per_visit_ci": _interval(max(0.0, spv_ci[0]), spv_ci[1]) if spv_ci else None,
        "timed_visits": int(seconds_per_visit.size),
    }
    return row, {"clicks_per_visit": clicks_per_visit, "seconds_per_visit": seconds_per_visit}


def compare(a: dict, b: dict, samples_a: dict | None = None, samples_b: dict | None = None):
    """Variant b against variant a (rows of `variant_summary`): CTP test, uplift, difference."""
    x_a, n_a = a["impressions_clicked"], a["impressions"]
    x_b, n_b = b["impressions_clicked"], b["impressions"]
    z, p_value = two_proportion_z_test(x_a, n_a, x_b, n_b)
    uplift, uplift_ci = ratio_uplift(x_a, n_a, x_b, n_b)
    difference, difference_ci = proportion_difference(x_a, n_a, x_b, n_b)
    result = {
        "a": a["name"],
        "b": b["name"],
        "metric": "ctp",
        "a_value": a["ctp"],
        "b_value": b["ctp"],
        "uplift": uplift,
        "uplift_ci": _interval(*uplift_ci) if uplift_ci else None,
        "difference": difference,
        "difference_ci": _interval(*difference_ci) if difference_ci else None,
        "z": z,
        "p_value": p_value,
        "significant": p_value is not None and p_value < 1 - CONFIDENCE,
    }
    if samples_a is not None and samples_b is not None:
        for metric in ("clicks_per_visit", "seconds_per_visit"):
            result[metric] = welch_difference(samples_a[metric], samples_b[metric])
    return result


def variant_ranking(data: EventData, mask: np.ndarray, clicked: np.ndarray) -> dict:
    """Ranking metrics of the shown items selected by `mask` (one variant's)."""
    list_ids = data.item_impression[mask]
    positions = data.item_position[mask]
    hits = clicked[mask]
    scores = data.item_score[mask]
    metrics = ranking_metrics(list_ids, positions, hits)
    calibration = calibration_error(scores, hits)
    return {
        "impressions_evaluated": metrics.pop("lists"),
        "items": int(mask.sum()),
        **metrics,
        "roc_auc": roc_auc(scores, hits),
        "mae": calibration["mae"],
        "rmse": calibration["rmse"],
        "calibration": calibration["buckets"],
    }


def build_report(data: EventData, experiment_info: dict | None = None) -> dict:
    """The report for already loaded events (see the module docstring for every definition)."""
    clicked = data.item_clicked
    item_variant = data.item_variant
    per_impression = data.clicks_per_impression
    rows, samples = [], []
    ranking, daily, positions = {}, {}, {}
    for name, strategy in data.variants:
        row, sample = variant_summary(data, name, strategy)
        rows.append(row)
        samples.append(sample)
        item_mask = item_variant == name
        ranking[name] = variant_ranking(data, item_mask, clicked)
        in_variant = data.imp_variant == name
        daily[name] = daily_ctr(data.imp_day[in_variant], per_impression[in_variant])
        positions[name] = click_curve(data.item_position[item_mask], clicked[item_mask])
    comparisons = [
        compare(rows[i], rows[j], samples[i], samples[j])
        for i, j in combinations(range(len(rows)), 2)
    ]
    return json_safe(
        {
            "experiment": experiment_info,
            "variants": rows,
            "comparisons": comparisons,
            "ranking": ranking,
            "daily": daily,
            "positions": positions,
        }
    )


def experiment_info(experiment) -> dict | None:
    if experiment is None:
        return None
    return json_safe(
        {
            "id": experiment.pk,
            "name": experiment.name,
            "description": experiment.description,
            "is_active": experiment.is_active,
            "is_running": experiment.is_running(),
            "starts_at": experiment.starts_at.isoformat() if experiment.starts_at else None,
            "ends_at": experiment.ends_at.isoformat() if experiment.ends_at else None,
            "variants": [
                {"name": v.name, "strategy": v.strategy, "weight": v.weight}
                for v in experiment.variants.order_by("id")
            ],
        }
    )


def default_experiment():
    """The active experiment (running or not), or None: the report then covers all events."""
    from .models import Experiment

    return Experiment.objects.filter(is_active=True).first()


def experiment_report(experiment=None) -> dict:
    """The JSON-safe report for `experiment` (an Experiment or its id); None: all events.

    {"experiment": {id, name, …} | None,
     "variants": [{name, strategy, visitors, visits, impressions, clicks, ctr, ctr_ci, ctp,
                   ctp_ci, clicks_per_visit, clicks_per_visit_ci, seconds_per_visit,
                   seconds_per_visit_ci, …}],
     "comparisons": [{a, b, uplift, uplift_ci, difference, difference_ci, p_value, …}],
     "ranking": {variant: {"precision@5", "recall@5", "precision@10", "recall@10", "mrr",
                           "ndcg@10", "roc_auc", "mae", "rmse", …}},
     "daily": {variant: [{day, impressions, clicks, ctr, ctp}]},
     "positions": {variant: [{position, impressions, clicks, ctr}]}}
    """
    if experiment is not None and not hasattr(experiment, "pk"):
        from .models import Experiment

        experiment = Experiment.objects.get(pk=experiment)
    return build_report(load_events(experiment), experiment_info(experiment))
