"""Ranking metrics on ranked lists, and the per-position and per-day click curves.

Pure functions over plain sequences or numpy arrays (no Django, no database). A list is one
impression: its items in the order shown (position 1 first), the clicked ones relevant.

- One list: `precision_at_k`, `recall_at_k`, `reciprocal_rank`, `ndcg_at_k`.
- Many lists at once, vectorised: `ranking_metrics` (equal to averaging the one-list functions
  over the lists with at least one clicked item).
- Scores against clicks: `roc_auc`, `calibration_error`.
- Curves for the dashboard: `click_curve` (by position), `daily_ctr` (by day).

How the report applies them (which lists count, what MAE / RMSE compare) is defined in the
docstring of `experiments.report`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RANKING_KS = (5, 10)
NDCG_K = 10
CALIBRATION_BUCKETS = 10


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
    it was clicked. Only lists with at least one clicked item count (see `experiments.report`);
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
