"""Experiment metrics as plain functions, against hand-computed numbers (no database)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from experiments import metrics
from experiments.charts import day_number, multi_line_chart_svg
from experiments.metrics import (
    EventData,
    build_report,
    calibration_error,
    click_curve,
    daily_ctr,
    mean_ci,
    ndcg_at_k,
    precision_at_k,
    proportion_difference,
    ranking_metrics,
    ratio_uplift,
    recall_at_k,
    reciprocal_rank,
    roc_auc,
    two_proportion_z_test,
    welch_difference,
    wilson_interval,
)

Z = 1.959963984540054


# --- Intervals and tests ----------------------------------------------------------------------


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    # By the formula, for another case.
    n, p = 200, 30 / 200
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    assert wilson_interval(30, 200) == pytest.approx((centre - half, centre + half))


def test_wilson_interval_edges():
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.7225, abs=1e-4)


def test_mean_ci_is_the_t_interval():
    mean, (low, high) = mean_ci([1, 2, 3, 4, 5])
    half = 2.776445105 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) · s / √n
    assert mean == 3.0
    assert (low, high) == pytest.approx((3 - half, 3 + half))
    assert mean_ci([]) == (None, None)
    assert mean_ci([7.0]) == (7.0, None)
    assert mean_ci([2, 2, 2]) == (2.0, (2.0, 2.0))


def test_two_proportion_z_test_by_hand_and_against_scipy():
    z, p = two_proportion_z_test(10, 100, 20, 100)
    pooled = 0.15
    se = math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert z == pytest.approx(0.1 / se)
    assert z == pytest.approx(1.98030, abs=1e-5)
    assert p == pytest.approx(0.04767, abs=1e-5)
    # The pooled z-test is the uncorrected chi-square test of the 2×2 table.
    chi2, p_chi2, _, _ = stats.chi2_contingency([[10, 90], [20, 80]], correction=False)
    assert p == pytest.approx(p_chi2)
    assert z**2 == pytest.approx(chi2)


def test_two_proportion_z_test_edges():
    assert two_proportion_z_test(0, 0, 3, 10) == (None, None)
    assert two_proportion_z_test(0, 50, 0, 60) == (0.0, 1.0)
    z, p = two_proportion_z_test(20, 100, 10, 100)
    assert z < 0 and p == pytest.approx(0.04767, abs=1e-5)


def test_uplift_with_delta_method_interval():
    uplift, (low, high) = ratio_uplift(10, 100, 20, 100)
    assert uplift == pytest.approx(1.0)
    se = math.sqrt(0.9 / 10 + 0.8 / 20)
    assert low == pytest.approx(2 * math.exp(-Z * se) - 1)
    assert high == pytest.approx(2 * math.exp(Z * se) - 1)
    assert low == pytest.approx(-0.01346, abs=1e-4) and high == pytest.approx(3.0545, abs=1e-3)
    assert ratio_uplift(0, 100, 5, 100) == (None, None)
    assert ratio_uplift(5, 100, 0, 100) == (-1.0, None)


def test_proportion_difference_wald_interval():
    difference, (low, high) = proportion_difference(10, 100, 20, 100)
    se = math.sqrt(0.1 * 0.9 / 100 + 0.2 * 0.8 / 100)
    assert difference == pytest.approx(0.1)
    assert (low, high) == pytest.approx((0.1 - Z * se, 0.1 + Z * se))


def test_welch_difference_matches_scipy():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0, 10.0]
    result = welch_difference(a, b)
    assert result["difference"] == pytest.approx(3.5)
    assert result["p_value"] == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
    low, high = result["difference_ci"]
    assert low < 3.5 < high
    assert welch_difference([], [1, 2])["difference"] is None
    assert welch_difference([1.0], [2.0])["p_value"] is None


# --- Ranking metrics --------------------------------------------------------------------------


def test_one_list_ranking_metrics_by_hand():
    relevance = [0, 1, 0, 1, 0]  # clicked at positions 2 and 4
    assert precision_at_k(relevance, 2) == 0.5
    assert precision_at_k(relevance, 5) == 0.4
    assert precision_at_k(relevance, 10) == 0.4  # only five shown
    assert precision_at_k([], 5) is None
    assert recall_at_k(relevance, 2) == 0.5
    assert recall_at_k(relevance, 5) == 1.0
    assert recall_at_k([0, 0], 5) is None
    assert reciprocal_rank(relevance) == 0.5
    assert reciprocal_rank([0, 0, 0]) == 0.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(relevance, 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(relevance, 5) == pytest.approx(0.650921, abs=1e-6)
    assert ndcg_at_k([1, 0, 0], 3) == 1.0
    assert ndcg_at_k([0, 0], 3) is None


def test_vectorised_ranking_metrics_equal_the_mean_of_the_one_list_ones():
    lists = {
        7: [0, 1, 0, 1, 0],
        3: [1, 0, 0],
        9: [0, 0, 0, 0],  # no click: not evaluated
        4: [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1],
    }
    ids, positions, clicked = [], [], []
    for list_id, relevance in lists.items():
        for index, r in enumerate(relevance):
            ids.append(list_id)
            positions.append(index + 1)
            clicked.append(bool(r))
    result = ranking_metrics(ids, positions, clicked)
    evaluated = [r for r in lists.values() if any(r)]
    assert result["lists"] == 3
    for k in (5, 10):
        assert result[f"precision@{k}"] == pytest.approx(
            np.mean([precision_at_k(r, k) for r in evaluated])
        )
        assert result[f"recall@{k}"] == pytest.approx(
            np.mean([recall_at_k(r, k) for r in evaluated])
        )
    assert result["mrr"] == pytest.approx(np.mean([reciprocal_rank(r) for r in evaluated]))
    assert result["mrr"] == pytest.approx((1 / 2 + 1 + 1 / 7) / 3)
    assert result["ndcg@10"] == pytest.approx(np.mean([ndcg_at_k(r, 10) for r in evaluated]))


def test_ranking_metrics_without_clicks_are_undefined():
    result = ranking_metrics([1, 1], [1, 2], [False, False])
    assert result["lists"] == 0 and result["mrr"] is None and result["precision@5"] is None
    assert ranking_metrics([], [], [])["ndcg@10"] is None


def test_roc_auc():
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert roc_auc([0.1, 0.2, 0.3], [1, 1, 1]) is None
    assert roc_auc([], []) is None
    assert roc_auc([0.1, float("nan"), 0.9], [0, 1, 1]) == 1.0  # unscored items are left out


def test_calibration_error_by_hand_with_given_predictions():
    result = calibration_error([0, 0, 1, 1], [0, 1, 1, 1], predicted=[0.4, 0.4, 0.7, 0.7])
    # Buckets: score 0 (predicted 0.4, observed 0.5) and score 1 (predicted 0.7, observed 1.0).
    assert [(b["predicted"], b["observed"]) for b in result["buckets"]] == pytest.approx(
        [(0.4, 0.5), (0.7, 1.0)]
    )
    assert result["mae"] == pytest.approx(0.2)
    assert result["rmse"] == pytest.approx(math.sqrt((0.1**2 + 0.3**2) / 2))


def test_calibration_error_with_the_logistic_fit():
    # Two score levels: the fitted logistic curve reproduces both click rates exactly.
    scores = [0.0] * 10 + [1.0] * 10
    clicks = [1, 1] + [0] * 8 + [1] * 6 + [0] * 4
    result = calibration_error(scores, clicks)
    assert result["mae"] == pytest.approx(0, abs=1e-4)
    assert [b["observed"] for b in result["buckets"]] == [0.2, 0.6]
    # Many scores drawn from a logistic model: deciles, small errors, rates rise with the score.
    rng = np.random.default_rng(1)
    s = rng.random(20000)
    y = rng.random(20000) < 1 / (1 + np.exp(-(3 * s - 2)))
    result = calibration_error(s, y)
    assert len(result["buckets"]) == 10
    assert result["mae"] < 0.02 and result["rmse"] >= result["mae"]
    predicted = [b["predicted"] for b in result["buckets"]]
    assert predicted == sorted(predicted)
    # Nothing to fit.
    assert calibration_error([0.1, 0.2], [0, 0])["mae"] is None


def test_click_curve_and_daily_ctr():
    curve = click_curve([1, 2, 1, 2, 3], [True, False, False, True, False])
    assert curve == [
        {"position": 1, "impressions": 2, "clicks": 1, "ctr": 0.5},
        {"position": 2, "impressions": 2, "clicks": 1, "ctr": 0.5},
        {"position": 3, "impressions": 1, "clicks": 0, "ctr": 0.0},
    ]
    days = daily_ctr(["2024-03-02", "2024-03-01", "2024-03-02"], [2, 0, 0])
    assert days == [
        {"day": "2024-03-01", "impressions": 1, "clicks": 0, "ctr": 0.0, "ctp": 0.0},
        {"day": "2024-03-02", "impressions": 2, "clicks": 2, "ctr": 1.0, "ctp": 0.5},
    ]


# --- The report on plain data -----------------------------------------------------------------


def _items(n: int, scores=None) -> list[dict]:
    scores = scores or [1 - i / 10 for i in range(n)]
    return [{"photo": 100 + i, "position": i + 1, "score": scores[i]} for i in range(n)]


def test_report_on_plain_data():
    impressions = [
        {"variant": "knn", "visitor": "u1", "visit": "v1", "day": "2024-05-01", "items": _items(4)},
        {"variant": "knn", "visitor": "u1", "visit": "v1", "day": "2024-05-01", "items": _items(4)},
        {"variant": "knn", "visitor": "u2", "visit": "v2", "day": "2024-05-02", "items": _items(4)},
        {"variant": "rnd", "visitor": "u3", "visit": "v3", "day": "2024-05-01", "items": _items(4)},
        {"variant": "rnd", "visitor": "u4", "visit": "v4", "day": "2024-05-02", "items": _items(4)},
    ]
    clicks = [
        {"impression": 0, "position": 1, "visitor": "u1", "visit": "v1"},
        {"impression": 0, "position": 3, "visitor": "u1", "visit": "v1"},
        {"impression": 2, "position": 2, "visitor": "u2", "visit": "v2"},
        {"impression": 4, "position": 4, "visitor": "u4", "visit": "v4"},
    ]
    page_times = [
        {"variant": "knn", "visitor": "u1", "visit": "v1", "seconds": 10},
        {"variant": "knn", "visitor": "u1", "visit": "v1", "seconds": 20},
        {"variant": "knn", "visitor": "u2", "visit": "v2", "seconds": 60},
        {"variant": "off", "visitor": "u5", "visit": "v5", "seconds": 5},
        {"variant": "off", "visitor": "u6", "visit": "v6", "seconds": 15},
    ]
    data = EventData.from_rows(
        impressions,
        clicks,
        page_times,
        variants=[("knn", "style_knn"), ("rnd", "random"), ("off", "none")],
    )
    report = build_report(data)
    json.dumps(report, allow_nan=False)  # JSON-safe
    knn, rnd, off = report["variants"]
    assert (knn["impressions"], knn["clicks"], knn["visitors"], knn["visits"]) == (3, 3, 2, 2)
    assert knn["ctr"] == pytest.approx(1.0)  # clicks per impression: (2 + 0 + 1) / 3
    assert knn["ctp"] == pytest.approx(2 / 3)
    assert knn["ctp_ci"] == pytest.approx(list(wilson_interval(2, 3)))
    assert knn["clicks_per_visit"] == pytest.approx(1.5)  # v1: 2 clicks, v2: 1
    assert knn["seconds_per_visit"] == pytest.approx(45.0)  # v1: 10 + 20, v2: 60
    assert (rnd["impressions"], rnd["clicks"], rnd["ctp"]) == (2, 1, 0.5)
    assert rnd["seconds_per_visit"] is None and rnd["seconds_per_visit_ci"] is None
    # The no-recommendation variant: visits from time on page, no impressions.
    assert (off["impressions"], off["visits"], off["visitors"]) == (0, 2, 2)
    assert off["ctr"] is None and off["ctp"] is None and off["ctr_ci"] is None
    assert off["clicks_per_visit"] == 0.0 and off["seconds_per_visit"] == pytest.approx(10.0)

    pairs = {(c["a"], c["b"]): c for c in report["comparisons"]}
    assert set(pairs) == {("knn", "rnd"), ("knn", "off"), ("rnd", "off")}
    c = pairs[("knn", "rnd")]
    assert c["uplift"] == pytest.approx(0.5 / (2 / 3) - 1)
    assert c["difference"] == pytest.approx(0.5 - 2 / 3)
    assert c["p_value"] == pytest.approx(two_proportion_z_test(2, 3, 1, 2)[1])
    assert pairs[("knn", "off")]["p_value"] is None
    assert pairs[("knn", "off")]["seconds_per_visit"]["difference"] == pytest.approx(-35.0)

    ranking = report["ranking"]["knn"]
    # Evaluated lists: impression 0 (clicks at 1 and 3) and impression 2 (click at 2).
    assert ranking["impressions_evaluated"] == 2
    assert ranking["mrr"] == pytest.approx((1 + 1 / 2) / 2)
    assert ranking["precision@5"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert ranking["recall@5"] == 1.0
    assert ranking["ndcg@10"] == pytest.approx(
        (ndcg_at_k([1, 0, 1, 0], 10) + ndcg_at_k([0, 1, 0, 0], 10)) / 2
    )
    # Items of knn: 12; clicked 3 with scores 1.0, 0.8, 0.9 against unclicked.
    scores = [1 - i / 10 for i in range(4)] * 3
    hits = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert ranking["roc_auc"] == pytest.approx(roc_auc(scores, hits))
    assert ranking["mae"] is not None and ranking["rmse"] >= ranking["mae"]
    assert report["ranking"]["off"]["roc_auc"] is None

    assert report["daily"]["knn"] == [
        {"day": "2024-05-01", "impressions": 2, "clicks": 2, "ctr": 1.0, "ctp": 0.5},
        {"day": "2024-05-02", "impressions": 1, "clicks": 1, "ctr": 1.0, "ctp": 1.0},
    ]
    assert report["positions"]["rnd"][3] == {
        "position": 4,
        "impressions": 2,
        "clicks": 1,
        "ctr": 0.5,
    }
    assert report["positions"]["off"] == [] and report["daily"]["off"] == []


def test_report_without_any_event():
    report = build_report(EventData.from_rows([], variants=[("a", "style_knn")]))
    assert report["variants"][0]["impressions"] == 0
    assert report["variants"][0]["ctr"] is None
    assert report["comparisons"] == []
    assert report["ranking"]["a"]["mrr"] is None
    assert build_report(EventData.from_rows([]))["variants"] == []


def test_observed_variants_follow_the_strategy_order():
    impressions = [
        {"variant": name, "strategy": name, "day": "2024-01-01", "items": []}
        for name in ["zeta", "random", "style_knn"]
    ]
    data = EventData.from_rows(impressions)
    assert [name for name, _ in data.variants] == ["style_knn", "random", "zeta"]
    assert dict(data.variants)["zeta"] == "zeta"


def test_json_safe_turns_nan_and_numpy_into_plain_values():
    value = metrics.json_safe(
        {"a": np.float64("nan"), "b": np.int64(3), "c": [np.float32(0.5), math.inf], "d": True}
    )
    assert value == {"a": None, "b": 3, "c": [0.5, None], "d": True}


# --- Multi-series chart -----------------------------------------------------------------------


def test_multi_line_chart_escapes_and_draws_one_line_per_series():
    svg = multi_line_chart_svg(
        {"<b>a</b>": [(1, 0.1), (2, 0.2)], "b & c": [(1, 0.3), (2, None), (3, 0.1)], "e": []},
        title="CTR <per> day",
        x_label="position",
        y_label="rate",
    )
    assert "<script" not in svg
    assert "<b>a</b>" not in svg and "&lt;b&gt;a&lt;/b&gt;" in svg and "b &amp; c" in svg
    assert svg.count('class="sf-chart-line"') == 2
    assert svg.count('class="sf-chart-point"') == 4
    assert 'role="img"' in svg and "<desc" in svg and "No data for e" in svg


def test_multi_line_chart_with_days_and_without_data():
    svg = multi_line_chart_svg(
        {"a": [(day_number("2024-05-01"), 0.1), (day_number("2024-05-03"), 0.3)]},
        title="t",
        x_label="day",
        y_label="ctr",
        x_format=lambda v: __import__("datetime").date.fromordinal(int(v)).isoformat(),
    )
    assert "2024-05-01" in svg and "2024-05-03" in svg
    empty = multi_line_chart_svg({}, title="t", x_label="x", y_label="y")
    assert "No data to plot." in empty
