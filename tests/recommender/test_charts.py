"""The SVG chart engine (`recommender.charts`): several series, and rate axes from 0.

The single-series chart of the recommender admin is tested with it in test_recommender_admin.py.
"""

from __future__ import annotations

import re

from recommender.charts import line_chart_svg, multi_line_chart_svg, nice_ticks
from tests.helpers.charts import y_ticks

# --- Several series ---------------------------------------------------------------------------


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


def test_multi_line_chart_without_data():
    empty = multi_line_chart_svg({}, title="t", x_label="x", y_label="y")
    assert "No data to plot." in empty


def test_series_differ_by_colour_and_dash_and_have_a_legend():
    svg = multi_line_chart_svg(
        [("a", [(1, 1), (2, 2)]), ("b", [(1, 2), (2, 1)])], title="t", x_label="x", y_label="y"
    )
    strokes = re.findall(r'<polyline[^>]*stroke="(#[0-9a-f]+)"', svg)
    assert len(set(strokes)) == 2
    assert svg.count("stroke-dasharray") == 2  # the second line and its legend swatch
    assert svg.count('class="sf-chart-legend"') == 2
    assert 'class="sf-chart sf-multi-chart"' in svg and 'data-series="2"' in svg


def test_one_and_several_series_share_the_frame_and_description():
    one = line_chart_svg([(1, 0.2), (2, 0.4)], title="t", x_label="x", y_label="y")
    many = multi_line_chart_svg({"s": [(1, 0.2), (2, 0.4)]}, title="t", x_label="x", y_label="y")
    for svg in (one, many):
        assert 'class="sf-chart-y-ticks"' in svg and 'class="sf-chart-axes"' in svg
        assert re.search(r"<desc[^>]*>Line chart of y against x", svg)
    assert "s: x = 1, y = 0.2" in many  # a point's title names its series


# --- Rate axes --------------------------------------------------------------------------------


def test_nice_ticks_with_a_floor_never_go_below_it():
    assert min(nice_ticks(0, 0, 5)) < 0  # without a floor a flat range widens both ways
    ticks = nice_ticks(0, 0, 5, floor=0)
    assert ticks[0] == 0 and ticks[-1] >= 1 and min(ticks) >= 0
    ticks = nice_ticks(0, 0.37, 5, floor=0)
    assert ticks[0] == 0 and ticks[-1] >= 0.37
    assert min(nice_ticks(0.2, 0.2, 5, floor=0)) >= 0


def test_a_rate_axis_runs_from_zero_even_when_every_rate_is_zero():
    svg = multi_line_chart_svg(
        {"a": [(1, 0.0), (2, 0.0)], "b": [(1, 0.0)]},
        title="t",
        x_label="position",
        y_label="click rate",
        y_floor=0.0,
    )
    ticks = y_ticks(svg)
    assert ticks[0] == 0 and min(ticks) == 0 and ticks[-1] > 0
    svg = line_chart_svg([(1, 0.3), (2, 0.5)], title="t", x_label="k", y_label="rate", y_floor=0.0)
    assert y_ticks(svg)[0] == 0
    # Without a floor the axis fits the data.
    fitted = line_chart_svg([(1, 0.3), (2, 0.5)], title="t", x_label="k", y_label="r")
    assert y_ticks(fitted)[0] > 0
