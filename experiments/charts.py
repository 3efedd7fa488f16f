"""Multi-series SVG line charts for the experiment dashboard (one line per variant).

Like `recommender.charts`: pure functions, numbers in, markup out; every piece of text escaped,
no script and no external resource. Each series has its own colour *and* dash pattern (readable
without colour), a legend, and a <title> on every point; the <desc> summarises the data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from recommender.charts import (
    AXIS_COLOUR,
    BACKGROUND,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_TOP,
    TEXT_COLOUR,
    clean_points,
    draw_frame,
    format_number,
    nice_ticks,
)

# Okabe–Ito inspired, distinguishable for most colour-vision deficiencies, on white.
SERIES_COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"]
SERIES_DASHES = ["", "6 4", "2 3", "8 3 2 3", "1 2", "10 4", "4 2 1 2"]
LEGEND_WIDTH = 140
LEGEND_NAME_CHARS = 18

Series = Mapping[str, Iterable[Sequence[object]]] | Sequence[tuple[str, Iterable[Sequence[object]]]]


def _f(value: float) -> str:
    return f"{value:.1f}"


def _short(name: str, limit: int = LEGEND_NAME_CHARS) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def day_number(day: str | date) -> int:
    """A calendar day as a number for the x axis (`day_label` turns it back)."""
    return (day if isinstance(day, date) else date.fromisoformat(str(day))).toordinal()


def day_label(value: float) -> str:
    return date.fromordinal(int(round(value))).isoformat()


def multi_line_chart_svg(
    series: Series,
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_format: Callable[[float], str] | None = None,
    y_format: Callable[[float], str] | None = None,
    include_zero: bool = True,
    width: int = 560,
    height: int = 300,
) -> SafeString:
    """An accessible multi-series line chart as inline SVG.

    `series` maps a name to its (x, y) points (or is a list of (name, points)); points with a
    missing or non-finite value are skipped. `x_format` labels x values (e.g. `day_label` for
    days given as `day_number`s; x ticks are then whole numbers); `include_zero` starts the y
    axis at 0. With no point at all the chart says so.
    """
    items = list(series.items()) if isinstance(series, Mapping) else list(series)
    named = [(str(name), clean_points(points)) for name, points in items]
    all_points = [p for _, points in named for p in points]
    digest = hashlib.sha1(repr((title, named)).encode(), usedforsecurity=False).hexdigest()
    chart_id = f"sf-mchart-{digest[:10]}"
    fx = x_format or (lambda v: format_number(v))
    fy = y_format or (lambda v: format_number(v))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sf-chart sf-multi-chart" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" data-series="{len(named)}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_describe(named, x_label, y_label, fx, fy))}</desc>',
        f'<rect width="{width}" height="{height}" fill="{BACKGROUND}" rx="4"/>',
        f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14" '
        f'font-weight="bold" fill="{TEXT_COLOUR}" font-family="sans-serif">{escape(title)}</text>',
    ]
    if not all_points:
        parts.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" font-size="13" '
            f'fill="{AXIS_COLOUR}" font-family="sans-serif">No data to plot.</text></svg>'
        )
        return mark_safe("".join(parts))  # noqa: S308 - generated markup, all text escaped

    left, right = MARGIN_LEFT, width - LEGEND_WIDTH
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    xs = [x for x, _ in all_points]
    ys = [y for _, y in all_points]
    integer_x = x_format is not None or all(x.is_integer() for x in xs)
    most = 5 if x_format is not None else 8  # formatted labels (dates) are wide
    x_count = min(most, max(2, int(max(xs) - min(xs)) + 1)) if integer_x else 6
    x_ticks = nice_ticks(min(xs), max(xs), max_ticks=x_count, integer=integer_x)
    y_low = min(0.0, min(ys)) if include_zero else min(ys)
    y_ticks = nice_ticks(y_low, max(ys), max_ticks=5)
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    sx, sy = draw_frame(
        parts,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        box=(left, right, top, bottom),
        height=height,
        x_label=x_label,
        y_label=y_label,
        x_tick_label=x_format or (lambda tick: format_number(tick, x_step)),
    )

    font = 'font-family="sans-serif" font-size="11"'
    legend_x = right + 14
    for index, (name, points) in enumerate(named):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        dash = SERIES_DASHES[index % len(SERIES_DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="sf-chart-series" data-name="{escape(name)}">')
        if len(points) > 1:
            line = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y in points)
            parts.append(
                f'<polyline class="sf-chart-line" points="{line}" fill="none" '
                f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"{dash_attr}/>'
            )
        for x, y in points:
            tip = f"{name}: {x_label} {fx(x)}, {y_label} {fy(y)}"
            parts.append(
                f'<circle class="sf-chart-point" r="3.5" cx="{_f(sx(x))}" cy="{_f(sy(y))}" '
                f'fill="{colour}"><title>{escape(tip)}</title></circle>'
            )
        legend_y = top + 8 + index * 18
        if points:
            parts.append(
                f'<line class="sf-chart-legend-swatch" x1="{legend_x}" x2="{legend_x + 22}" '
                f'y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="2.5"'
                f"{dash_attr}/>"
            )
        label = _short(name) if points else f"{_short(name, 10)} (no data)"
        parts.append(
            f'<text class="sf-chart-legend" x="{legend_x + 28}" y="{legend_y + 4}" '
            f'fill="{TEXT_COLOUR if points else AXIS_COLOUR}" {font}>{escape(label)}'
            f"<title>{escape(name)}</title></text></g>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - generated markup, all text escaped


def _describe(named, x_label: str, y_label: str, fx, fy) -> str:
    plotted = [(name, points) for name, points in named if points]
    if not plotted:
        return f"No data: {y_label} against {x_label}."
    parts = []
    for name, points in plotted:
        xs = [x for x, _ in points]
        best_x, best_y = max(points, key=lambda p: p[1])
        mean = sum(y for _, y in points) / len(points)
        parts.append(
            f"{name}: {len(points)} point{'s' if len(points) != 1 else ''}, {x_label} "
            f"{fx(min(xs))} to {fx(max(xs))}, mean {y_label} {fy(mean)}, highest "
            f"{fy(best_y)} at {fx(best_x)}"
        )
    missing = [name for name, points in named if not points]
    text = f"Line chart of {y_label} against {x_label}, one line per series. " + "; ".join(parts)
    if missing:
        text += f". No data for {', '.join(missing)}"
    return text + "."


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
        y_format=lambda v: f"{v:.4f}",
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
        y_format=lambda v: f"{v:.4f}",
    )
