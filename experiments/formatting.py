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


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def screening_notes(report: dict) -> list[dict]:
    """What a reader must know before trusting the numbers, as {"text", "warning"}: the traffic
    the screening left out and why (report["screened"]), and, as a warning, a split of visitors
    that does not follow the weights (report["sample_ratio"])."""
    notes = []
    screened = report.get("screened")
    if screened:
        limit = screened["max_visitors_per_address"]
        fastest = f"{screened['min_click_seconds']:g} s"
        reasons = []
        if screened["addresses"]:
            reasons.append(
                f"{_count(screened['addresses'], 'address', 'addresses')} behind more than "
                f"{limit} visitor ids each"
            )
        if screened["fast_clickers"]:
            reasons.append(
                f"{_count(screened['fast_clickers'], 'visitor')} who clicked a list less than "
                f"{fastest} after it was shown, faster than a person"
            )
        if screened["implausible_dwellers"]:
            reasons.append(
                f"{_count(screened['implausible_dwellers'], 'visitor')} who claimed more time "
                "on a page than it had been open"
            )
        if reasons:
            left_out = ", ".join(
                [
                    _count(screened["visitors"], "visitor"),
                    _count(screened["impressions"], "impression"),
                    _count(screened["clicks"], "click"),
                    _count(screened["page_times"], "page time"),
                ]
            )
            text = f"Left out as suspicious: {'; '.join(reasons)} ({left_out})."
            notes.append({"text": text, "warning": False})
        else:
            text = (
                f"No suspicious traffic: no address is behind more than {limit} visitor ids, "
                f"no click came faster than {fastest}, no page claimed more time than it was "
                "open."
            )
            notes.append({"text": text, "warning": False})
    ratio = report.get("sample_ratio")
    if ratio and ratio["mismatch"]:
        split = ", ".join(
            f"{name} {count} (expected {format_percent(ratio['expected_share'][name], 0)})"
            for name, count in ratio["visitors"].items()
        )
        text = (
            f"Visitors did not split as the weights say: {split}, p = "
            f"{format_p_value(ratio['p_value'])}. Visitors of a variant are missing or were "
            "added (a logging fault, or someone keeping the visitor ids of the variant they "
            "steer), so the comparisons are not to be trusted until the cause is found."
        )
        notes.append({"text": text, "warning": True})
    return notes
