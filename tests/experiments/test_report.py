"""The report built from plain event data (`EventData.from_rows`), no database."""

from __future__ import annotations

import json

import pytest

from experiments.ranking import ndcg_at_k, roc_auc
from experiments.report import EventData, build_report
from experiments.statistics import two_proportion_z_test, wilson_interval

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
