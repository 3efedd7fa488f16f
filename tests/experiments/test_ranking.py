"""Ranking metrics and click curves on plain lists, against hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.ranking import (
    calibration_error,
    click_curve,
    daily_ctr,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    reciprocal_rank,
    roc_auc,
)

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
