"""The experiment dashboard's charts: days on the x axis, rates from 0 on the y axis."""

from __future__ import annotations

from datetime import date

from experiments.charts import ctr_by_day_chart, day_label, day_number, position_curve_chart
from recommender.charts import multi_line_chart_svg
from tests.helpers.charts import y_ticks


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


def test_day_numbers_and_labels_round_trip():
    assert day_label(day_number("2024-05-01")) == "2024-05-01"
    assert day_number(date(2024, 5, 2)) == day_number("2024-05-01") + 1


def test_ctr_by_day_chart_labels_days_and_starts_at_zero():
    svg = ctr_by_day_chart(
        {
            "knn": [{"day": "2024-05-01", "ctr": 0.5}, {"day": "2024-05-02", "ctr": 0.75}],
            "control": [{"day": "2024-05-01", "ctr": 0.25}],
        }
    )
    assert "2024-05-01" in svg and "CTR by variant over time" in svg
    assert y_ticks(svg)[0] == 0
    assert "clicks per impression = 0.7500" in svg  # the tables' CTR digits


def test_position_curve_of_zero_rates_does_not_run_below_zero():
    svg = position_curve_chart(
        {
            "a": [{"position": 1, "ctr": 0.0}, {"position": 2, "ctr": 0.0}],
            "b": [{"position": 1, "ctr": 0.0}],
        }
    )
    ticks = y_ticks(svg)
    assert ticks[0] == 0 and min(ticks) == 0 and ticks[-1] > 0
    assert svg.count('class="sf-chart-line"') == 1  # b has one point: no line
