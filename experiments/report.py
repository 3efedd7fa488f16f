"""The A/B report: what the experiment measured, built from events already in memory.

Pure (no database): `EventData` holds the event tables as flat numpy arrays (`from_rows` builds
it from plain dicts; `experiments.selectors.load_events` from the database), and
`build_report(data, experiment_info)` turns it into the JSON-safe dict that the command, the API
and the admin dashboard all show (`experiments.selectors.experiment_report` does both in one
call). The numbers come from `experiments.statistics` and `experiments.ranking`.

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
from itertools import combinations

import numpy as np

from .models import Strategy
from .ranking import calibration_error, click_curve, daily_ctr, ranking_metrics, roc_auc
from .statistics import (
    CONFIDENCE,
    SAMPLE_RATIO_ALPHA,
    as_float,
    interval,
    json_safe,
    mean_ci,
    proportion,
    proportion_difference,
    ratio_uplift,
    sample_ratio_test,
    two_proportion_z_test,
    welch_difference,
    wilson_interval,
)

# --- The event tables -------------------------------------------------------------------------


def string_array(values: list) -> np.ndarray:
    """A 1-d numpy array of Python objects (strings), also for an empty list."""
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
    imp_variant: np.ndarray = field(default_factory=lambda: string_array([]))
    imp_strategy: np.ndarray = field(default_factory=lambda: string_array([]))
    imp_visitor: np.ndarray = field(default_factory=lambda: string_array([]))
    imp_visit: np.ndarray = field(default_factory=lambda: string_array([]))
    imp_day: np.ndarray = field(default_factory=lambda: np.array([], dtype="datetime64[D]"))
    item_impression: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    item_position: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    item_score: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))
    click_impression: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    click_position: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    click_visitor: np.ndarray = field(default_factory=lambda: string_array([]))
    click_visit: np.ndarray = field(default_factory=lambda: string_array([]))
    time_variant: np.ndarray = field(default_factory=lambda: string_array([]))
    time_visitor: np.ndarray = field(default_factory=lambda: string_array([]))
    time_visit: np.ndarray = field(default_factory=lambda: string_array([]))
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
        data.imp_variant = string_array([i["variant"] for i in impressions])
        data.imp_strategy = string_array([i.get("strategy", "") for i in impressions])
        data.imp_visitor = string_array([i.get("visitor", "") for i in impressions])
        data.imp_visit = string_array([i.get("visit", "") for i in impressions])
        data.imp_day = np.array([str(i["day"]) for i in impressions], dtype="datetime64[D]")
        data.set_items([i.get("items") or [] for i in impressions])
        data.click_impression = np.array([c["impression"] for c in clicks], dtype=np.int64)
        data.click_position = np.array([c["position"] for c in clicks], dtype=np.int64)
        data.click_visitor = string_array([c.get("visitor", "") for c in clicks])
        data.click_visit = string_array([c.get("visit", "") for c in clicks])
        summed: dict[tuple[str, str, str], float] = {}
        for row in page_times:
            key = (row["variant"], row.get("visitor", ""), row["visit"])
            summed[key] = summed.get(key, 0.0) + float(row["seconds"])
        data.set_times(list(summed), list(summed.values()))
        data.variants = list(variants) if variants is not None else data.observed_variants()
        return data

    def set_items(self, lists: list[list]) -> None:
        """The shown items from each impression's item list ({"position", "score", …})."""
        lengths = np.fromiter((len(items) for items in lists), dtype=np.int64, count=len(lists))
        flat = [item for items in lists for item in items]
        self.item_impression = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
        self.item_position = np.fromiter(
            (int(item.get("position") or 0) for item in flat), dtype=np.int64, count=len(flat)
        )
        self.item_score = np.fromiter(
            (_score(item.get("score")) for item in flat), dtype=float, count=len(flat)
        )

    def set_times(self, keys: list[tuple[str, str, str]], seconds: list[float]) -> None:
        """Time on page: one (variant, visitor, visit) key per visit, with its summed seconds."""
        self.time_variant = string_array([k[0] for k in keys])
        self.time_visitor = string_array([k[1] for k in keys])
        self.time_visit = string_array([k[2] for k in keys])
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
        return name if name in Strategy.values else ""


def _score(value) -> float:
    number = as_float(value)
    return math.nan if number is None else number


def _variant_order(names: Iterable[str]) -> list[str]:
    order = {value: index for index, value in enumerate(Strategy.values)}
    return sorted(names, key=lambda n: (0, order[n], "") if n in order else (1, 0, n))


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
        "ctr_ci": interval(max(0.0, ctr_ci[0]), ctr_ci[1]) if ctr_ci else None,
        "ctp": proportion(clicked, n),
        "ctp_ci": interval(*wilson_interval(clicked, n)) if n else None,
        "clicks_per_visit": cpv,
        "clicks_per_visit_ci": interval(max(0.0, cpv_ci[0]), cpv_ci[1]) if cpv_ci else None,
        "seconds_per_visit": spv,
        "seconds_per_visit_ci": interval(max(0.0, spv_ci[0]), spv_ci[1]) if spv_ci else None,
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
        "uplift_ci": interval(*uplift_ci) if uplift_ci else None,
        "difference": difference,
        "difference_ci": interval(*difference_ci) if difference_ci else None,
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


def sample_ratio(rows: list[dict], experiment_info: dict | None) -> dict | None:
    """Whether visitors split between the experiment's variants as their weights say (a
    sample ratio mismatch check); None without an experiment of two or more variants.

    Assignment is a hash of the visitor id, so a real split follows the weights closely; a
    mismatch (p < `SAMPLE_RATIO_ALPHA`) means visitors of one variant are missing or added,
    for example by someone who collects visitor ids and keeps those of the variant they steer,
    and the comparisons are not to be trusted."""
    declared = (experiment_info or {}).get("variants") or []
    if len(declared) < 2:
        return None
    visitors = {row["name"]: row["visitors"] for row in rows}
    counts = [visitors.get(v["name"], 0) for v in declared]
    p_value = sample_ratio_test(counts, [v["weight"] for v in declared])
    total_weight = sum(v["weight"] for v in declared)
    return {
        "visitors": dict(zip([v["name"] for v in declared], counts, strict=True)),
        "expected_share": {v["name"]: v["weight"] / total_weight for v in declared},
        "p_value": p_value,
        "mismatch": p_value is not None and p_value < SAMPLE_RATIO_ALPHA,
    }


def build_report(data: EventData, experiment_info: dict | None = None) -> dict:
    """The report for already loaded events (see the module docstring for every definition).

    {"experiment": experiment_info (as given) | None,
     "variants": [{name, strategy, visitors, visits, impressions, clicks, ctr, ctr_ci, ctp,
                   ctp_ci, clicks_per_visit, clicks_per_visit_ci, seconds_per_visit,
                   seconds_per_visit_ci, …}],
     "comparisons": [{a, b, uplift, uplift_ci, difference, difference_ci, p_value, …}],
     "ranking": {variant: {"precision@5", "recall@5", "precision@10", "recall@10", "mrr",
                           "ndcg@10", "roc_auc", "mae", "rmse", …}},
     "daily": {variant: [{day, impressions, clicks, ctr, ctp}]},
     "positions": {variant: [{position, impressions, clicks, ctr}]},
     "sample_ratio": {visitors, expected_share, p_value, mismatch} | None (`sample_ratio`)}
    """
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
            "sample_ratio": sample_ratio(rows, experiment_info),
        }
    )
