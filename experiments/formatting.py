"""How the A/B report's numbers read, in one place: the admin dashboard, the `experiment_report`
command and the dashboard's charts format with these functions, and the API's schema takes the
confidence level and the ranking columns from here (the API itself returns raw numbers).

Missing values (None: no data) read "–"; percentages "66.67%"; intervals "[low, high]"; p-values
below 0.0001 "<0.0001". Each metric has one number of digits, wherever it is shown.
"""

from __future__ import annotations

from .ranking import NDCG_K, RANKING_KS
from .statistics import CONFIDENCE

MISSING = "–"

# Digits per metric (percentages: digits of the percentage).
CTR_DIGITS = 4
CTP_DIGITS = 2
UPLIFT_DIGITS = 1
DIFFERENCE_DIGITS = 2
RANKING_DIGITS = 4

# The business metrics of a variant, compared with Welch's t-test: (key, label, digits).
BUSINESS_METRICS = [
    ("clicks_per_visit", "clicks per visit", 3),
    ("seconds_per_visit", "seconds per visit", 1),
]

# The ranking metrics shown per variant, in order: (key in the report, label).
RANKING_COLUMNS = [
    *((key, key) for k in RANKING_KS for key in (f"precision@{k}", f"recall@{k}")),
    ("mrr", "MRR"),
    (f"ndcg@{NDCG_K}", f"nDCG@{NDCG_K}"),
    ("roc_auc", "ROC AUC"),
    ("mae", "MAE"),
    ("rmse", "RMSE"),
]


def format_number(value: float | None, digits: int = 4) -> str:
    """`value` with a fixed number of decimals ("–" for None)."""
    return MISSING if value is None else f"{value:.{digits}f}"


def format_percent(value: float | None, digits: int = 2, signed: bool = False) -> str:
    """A share (0.5) as a percentage ("50.00%"); `signed` always shows the sign."""
    if value is None:
        return MISSING
    return f"{value * 100:{'+' if signed else ''}.{digits}f}%"


def format_interval(
    interval: list[float] | tuple[float, float] | None,
    digits: int = 4,
    percent: bool = False,
    signed: bool = False,
) -> str:
    """A confidence interval as "[low, high]" ("[–]" without one), numbers or percentages."""
    if not interval:
        return f"[{MISSING}]"
    low, high = interval
    if percent:
        return f"[{format_percent(low, digits, signed)}, {format_percent(high, digits, signed)}]"
    return f"[{format_number(low, digits)}, {format_number(high, digits)}]"


def format_p_value(value: float | None) -> str:
    """A p-value to four decimals, "<0.0001" below that."""
    if value is None:
        return MISSING
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


CONFIDENCE_LABEL = format_percent(CONFIDENCE, 0)  # "95%"


def format_variant(row: dict) -> dict[str, str]:
    """The formatted numbers of a report's variant row (same keys as the row)."""
    formatted = {
        "ctr": format_number(row["ctr"], CTR_DIGITS),
        "ctr_ci": format_interval(row["ctr_ci"], CTR_DIGITS),
        "ctp": format_percent(row["ctp"], CTP_DIGITS),
        "ctp_ci": format_interval(row["ctp_ci"], CTP_DIGITS, percent=True),
    }
    for key, _, digits in BUSINESS_METRICS:
        formatted[key] = format_number(row[key], digits)
        formatted[f"{key}_ci"] = format_interval(row[f"{key}_ci"], digits)
    return formatted


def format_comparison(comparison: dict) -> dict:
    """The formatted numbers of a report's comparison: the CTP test (uplift, difference,
    p-value) and, under "business", {key: {label, difference, difference_ci, p_value}} for each
    of `BUSINESS_METRICS` (Welch's t-test), in that order."""
    business = {}
    for key, label, digits in BUSINESS_METRICS:
        welch = comparison.get(key) or {}
        business[key] = {
            "label": label,
            "difference": format_number(welch.get("difference"), digits),
            "difference_ci": format_interval(welch.get("difference_ci"), digits),
            "p_value": format_p_value(welch.get("p_value")),
        }
    return {
        "uplift": format_percent(comparison["uplift"], UPLIFT_DIGITS, signed=True),
        "uplift_ci": format_interval(
            comparison["uplift_ci"], UPLIFT_DIGITS, percent=True, signed=True
        ),
        "difference": format_percent(comparison["difference"], DIFFERENCE_DIGITS, signed=True),
        "difference_ci": format_interval(
            comparison["difference_ci"], DIFFERENCE_DIGITS, percent=True, signed=True
        ),
        "p_value": format_p_value(comparison["p_value"]),
        "business": business,
    }


def format_ranking(metrics: dict) -> list[str]:
    """A variant's ranking metrics, formatted, in the order of `RANKING_COLUMNS`."""
    return [format_number(metrics.get(key), RANKING_DIGITS) for key, _ in RANKING_COLUMNS]
