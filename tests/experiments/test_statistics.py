"""Statistics on plain numbers, against hand-computed and scipy's values (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from experiments.statistics import (
    json_safe,
    mean_ci,
    proportion_difference,
    ratio_uplift,
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


def test_json_safe_turns_nan_and_numpy_into_plain_values():
    value = json_safe(
        {"a": np.float64("nan"), "b": np.int64(3), "c": [np.float32(0.5), math.inf], "d": True}
    )
    assert value == {"a": None, "b": 3, "c": [0.5, None], "d": True}


def test_sample_ratio_test_against_the_weights():
    from experiments.statistics import sample_ratio_test

    assert sample_ratio_test([500, 500], [1, 1]) == pytest.approx(1.0)
    # 1:3 weights: a 250/750 split is what they promise, 500/500 is far off.
    assert sample_ratio_test([250, 750], [1, 3]) == pytest.approx(1.0)
    assert sample_ratio_test([500, 500], [1, 3]) < 1e-20
    # chi-square with one degree of freedom: 40 + 80 against 60 + 60 is chi2 = 13.33.
    assert sample_ratio_test([40, 80], [1, 1]) == pytest.approx(2.6e-4, rel=0.02)
    assert sample_ratio_test([3], [1]) is None
    assert sample_ratio_test([0, 0], [1, 1]) is None


def test_screening_notes_say_what_was_left_out_and_warn_of_a_bad_split():
    from experiments.formatting import screening_notes

    rules = {"max_visitors_per_address": 10, "min_click_seconds": 0.5}
    clean = {**rules, "addresses": 0, "fast_clickers": 0, "implausible_dwellers": 0}
    clean |= {"visitors": 0, "impressions": 0, "clicks": 0, "page_times": 0}
    (note,) = screening_notes({"screened": clean, "sample_ratio": None})
    assert note == {
        "text": "No suspicious traffic: no address is behind more than 10 visitor ids, no click "
        "came faster than 0.5 s, no page claimed more time than it was open.",
        "warning": False,
    }
    caught = {**clean, "addresses": 2, "implausible_dwellers": 1, "visitors": 23}
    caught |= {"impressions": 30, "clicks": 1, "page_times": 4}
    ratio = {
        "visitors": {"a": 40, "b": 80},
        "expected_share": {"a": 0.5, "b": 0.5},
        "p_value": 2.6e-4,
        "mismatch": True,
    }
    first, second = screening_notes({"screened": caught, "sample_ratio": ratio})
    assert first["text"] == (
        "Left out as suspicious: 2 addresses behind more than 10 visitor ids each; 1 visitor "
        "who claimed more time on a page than it had been open (23 visitors, 30 impressions, "
        "1 click, 4 page times)."
    )
    assert second["warning"] is True
    assert second["text"].startswith(
        "Visitors did not split as the weights say: a 40 (expected 50%), b 80 (expected 50%), "
        "p = 0.0003."
    )
    assert screening_notes({"screened": None, "sample_ratio": {**ratio, "mismatch": False}}) == []
