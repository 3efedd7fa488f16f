"""The experiment dashboard's charts: the report's `daily` and `positions` blocks as one line per
variant, drawn by the project's one chart engine (`recommender.charts`). Both are rates, so their
y axis runs from 0 to the highest value."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from django.utils.safestring import SafeString

from recommender.charts import multi_line_chart_svg

from .formatting import CTR_DIGITS, format_number


def day_number(day: str | date) -> int:
    """A calendar day as a number for the x axis (`day_label` turns it back)."""
    return (day if isinstance(day, date) else date.fromisoformat(str(day))).toordinal()


def day_label(value: float) -> str:
    return date.fromordinal(int(round(value))).isoformat()


def rate_label(value: float) -> str:
    """A rate on a chart, with the digits the report's tables give a CTR."""
    return format_number(value, CTR_DIGITS)


def ctr_by_day_chart(daily: Mapping[str, list[dict]], metric: str = "ctr") -> SafeString:
    """The report's `daily` block as one line per variant (CTR by day of impression)."""
    series = [
        (name, [(day_number(row["day"]), row.get(metric)) for row in rows])
        for name, rows in daily.items()
    ]
    return multi_line_chart_svg(
        series,
        title="CTR by variant over time",
        x_label="day",
        y_label="clicks per impression",
        x_format=day_label,
        y_format=rate_label,
        y_floor=0.0,
    )


def position_curve_chart(positions: Mapping[str, list[dict]]) -> SafeString:
    """The report's `positions` block: click rate of each list position, one line per variant."""
    series = [
        (name, [(row["position"], row.get("ctr")) for row in rows])
        for name, rows in positions.items()
    ]
    return multi_line_chart_svg(
        series,
        title="Clicks by position in the list",
        x_label="position",
        y_label="click rate",
        y_format=rate_label,
        y_floor=0.0,
    )
