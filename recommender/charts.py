"""The SVG chart engine of the admin dashboards: line charts of one or several series.

Pure functions: numbers in, markup out. Every piece of text is escaped; the markup has no
external resources and no script, so it can be inlined in any admin page. Each chart is an
accessible image (role="img", a <title> and a <desc> that summarises the data, a <title> on
every point). Several series get a colour *and* a dash pattern each (readable without colour)
and a legend.

- `line_chart_svg(points, …)`: one series, optionally one highlighted x (the chosen k).
- `multi_line_chart_svg(series, …)`: one line per named series, with a legend.

Both draw with the same frame, ticks, series and description code (`_chart`). `y_floor` starts
the y axis at that value: 0 for a rate, so its axis runs from 0 to the highest value and never
below 0 (also when every value is 0).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Point = tuple[float, float]
Points = Iterable[Sequence[object]]
Series = Mapping[str, Points] | Sequence[tuple[str, Points]]
Format = Callable[[float], str]

# Colours chosen to read on the admin's light and dark themes (the chart has its own background).
AXIS_COLOUR = "#666666"
GRID_COLOUR = "#e4e4e4"
LINE_COLOUR = "#417690"
HIGHLIGHT_COLOUR = "#ba2121"
TEXT_COLOUR = "#333333"
BACKGROUND = "#ffffff"
# Several series: Okabe–Ito inspired, distinguishable for most colour-vision deficiencies, on
# white; each with its own dash pattern too.
SERIES_COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"]
SERIES_DASHES = ["", "6 4", "2 3", "8 3 2 3", "1 2", "10 4", "4 2 1 2"]

MARGIN_LEFT = 64
MARGIN_RIGHT = 20
MARGIN_TOP = 34
MARGIN_BOTTOM = 48
LEGEND_WIDTH = 140
LEGEND_NAME_CHARS = 18


# --- Data and ticks ---------------------------------------------------------------------------


def clean_points(points: Points | None) -> list[Point]:
    """Finite (x, y) pairs sorted by x; pairs with a missing or non-numeric value are skipped."""
    cleaned: list[Point] = []
    for point in points or []:
        try:
            x, y = point
            x, y = float(x), float(y)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(x) and math.isfinite(y):
            cleaned.append((x, y))
    return sorted(cleaned)


def sweep_series(sweep: Iterable[object] | None, key: str, x_key: str = "k") -> list[Point]:
    """(k, value) pairs from a run's sweep (a list of {"k": …, key: …}); gaps are skipped."""
    pairs = []
    for entry in sweep or []:
        if isinstance(entry, dict):
            pairs.append((entry.get(x_key), entry.get(key)))
    return clean_points(pairs)


def nice_ticks(
    low: float,
    high: float,
    max_ticks: int = 6,
    integer: bool = False,
    floor: float | None = None,
) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2, 2.5 or 5 times a power of ten.

    `floor`: no tick below it (the axis of a rate starts at 0); a flat range then widens upwards
    only, so all zeros give 0 … 1, not −1 … 1.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if floor is not None:
        low, high = max(low, floor), max(high, floor)
    if high == low:
        pad = 1.0 if integer or low == 0 else abs(low) * 0.1
        if floor is not None and low - pad < floor:
            high = low + pad
        else:
            low, high = low - pad, high + pad
    raw_step = (high - low) / max(1, max_ticks - 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = magnitude
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if step >= raw_step:
            break
    if integer:
        step = max(1.0, float(math.ceil(step)))
    start = math.floor(low / step + 1e-9) * step
    stop = math.ceil(high / step - 1e-9) * step
    count = int(round((stop - start) / step)) + 1
    ticks = [start + i * step for i in range(count)]
    if floor is not None and ticks[0] < floor:
        ticks[0] = floor
    return ticks


def short_number(value: float, step: float | None = None) -> str:
    """A short axis or point label: as many decimals as the tick step needs (or, without a step,
    as the value's size needs), thousands separated, a true minus sign."""
    if step is None:
        magnitude = abs(value)
        if magnitude == 0 or magnitude >= 1000:
            decimals = 0
        elif magnitude >= 10:
            decimals = 1
        else:
            decimals = 3
    elif step >= 1 and float(step).is_integer():
        decimals = 0
    else:
        decimals = max(0, -math.floor(math.log10(step)) + (0 if _is_round(step) else 1))
    text = f"{value:,.{decimals}f}"
    if decimals and step is None:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", "-0.0", "-0.00", "-0.000"} else text.replace("-", "−")


def _is_round(step: float) -> bool:
    magnitude = 10 ** math.floor(math.log10(step))
    return abs(step / magnitude - round(step / magnitude)) < 1e-9


def _f(value: float) -> str:
    return f"{value:.1f}"


def _short(name: str, limit: int = LEGEND_NAME_CHARS) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- The charts -------------------------------------------------------------------------------


def line_chart_svg(
    points: Points | None,
    *,
    title: str,
    x_label: str,
    y_label: str,
    highlight_x: float | None = None,
    highlight_label: str | None = None,
    y_floor: float | None = None,
    width: int = 400,
    height: int = 260,
) -> SafeString:
    """An accessible line chart of `points` as inline SVG.

    Points with a missing (None) or non-finite coordinate are skipped. `highlight_x` marks one
    x value (the chosen k): a dashed guide line, a larger red dot and a label. With no points left
    the chart says so instead of drawing axes.
    """
    return _chart(
        [("", clean_points(points))],
        title=title,
        x_label=x_label,
        y_label=y_label,
        highlight=None if highlight_x is None else _finite(highlight_x),
        highlight_label=highlight_label,
        y_floor=y_floor,
        legend=False,
        max_x_ticks=10,
        width=width,
        height=height,
    )


def multi_line_chart_svg(
    series: Series,
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_format: Format | None = None,
    y_format: Format | None = None,
    y_floor: float | None = None,
    width: int = 560,
    height: int = 300,
) -> SafeString:
    """An accessible multi-series line chart as inline SVG, with a legend.

    `series` maps a name to its (x, y) points (or is a list of (name, points)); points with a
    missing or non-finite value are skipped. `x_format` labels x values (e.g. days given as day
    numbers; x ticks are then whole numbers), `y_format` the y values of points and of the
    description. With no point at all the chart says so.
    """
    items = list(series.items()) if isinstance(series, Mapping) else list(series)
    return _chart(
        [(str(name), clean_points(points)) for name, points in items],
        title=title,
        x_label=x_label,
        y_label=y_label,
        x_format=x_format,
        y_format=y_format,
        y_floor=y_floor,
        legend=True,
        max_x_ticks=5 if x_format is not None else 8,
        width=width,
        height=height,
    )


def _chart(
    named: list[tuple[str, list[Point]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_format: Format | None = None,
    y_format: Format | None = None,
    y_floor: float | None = None,
    highlight: float | None = None,
    highlight_label: str | None = None,
    legend: bool,
    max_x_ticks: int,
    width: int,
    height: int,
) -> SafeString:
    """The one drawing routine: open the SVG, then frame, series, highlight and legend."""
    all_points = [p for _, points in named for p in points]
    fx = x_format or (lambda v: short_number(v))
    fy = y_format or (lambda v: short_number(v))
    digest = hashlib.sha1(repr((title, named)).encode(), usedforsecurity=False).hexdigest()
    chart_id = f"sf-chart-{digest[:10]}"
    description = _describe(named, x_label, y_label, fx, fy, highlight, highlight_label)
    css_class = "sf-chart sf-multi-chart" if legend else "sf-chart"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" data-series="{len(named)}" '
        f'data-points="{len(all_points)}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
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

    left, right = MARGIN_LEFT, width - (LEGEND_WIDTH if legend else MARGIN_RIGHT)
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    xs = [x for x, _ in all_points]
    ys = [y for _, y in all_points]
    x_low, x_high = min(xs), max(xs)
    if highlight is not None:
        x_low, x_high = min(x_low, highlight), max(x_high, highlight)
    integer_x = x_format is not None or all(x.is_integer() for x in xs)
    x_count = min(max_x_ticks, max(2, int(x_high - x_low) + 1)) if integer_x else 6
    x_ticks = nice_ticks(x_low, x_high, max_ticks=x_count, integer=integer_x)
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    y_low = min(ys) if y_floor is None else min(y_floor, min(ys))
    y_ticks = nice_ticks(y_low, max(ys), max_ticks=5, floor=None if y_floor is None else y_low)
    sx, sy = draw_frame(
        parts,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        box=(left, right, top, bottom),
        height=height,
        x_label=x_label,
        y_label=y_label,
        x_tick_label=x_format or (lambda tick: short_number(tick, x_step)),
    )
    if highlight is not None:  # a guide line under the data
        hx = sx(highlight)
        parts.append(
            f'<line class="sf-chart-highlight-guide" x1="{_f(hx)}" x2="{_f(hx)}" y1="{top}" '
            f'y2="{bottom}" stroke="{HIGHLIGHT_COLOUR}" stroke-dasharray="4 3" '
            f'stroke-width="1.5"/>'
        )
    for index, (name, points) in enumerate(named):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)] if legend else LINE_COLOUR
        dash = SERIES_DASHES[index % len(SERIES_DASHES)] if legend else ""
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="sf-chart-series" data-name="{escape(name)}">')
        if len(points) > 1:
            line = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y in points)
            parts.append(
                f'<polyline class="sf-chart-line" points="{line}" fill="none" '
                f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"{dash_attr}/>'
            )
        for x, y in points:
            chosen = highlight is not None and math.isclose(x, highlight)
            attrs = (
                f'class="sf-chart-point sf-chart-highlight" r="6" fill="{HIGHLIGHT_COLOUR}" '
                f'stroke="{BACKGROUND}" stroke-width="2"'
                if chosen
                else f'class="sf-chart-point" r="3.5" fill="{colour}"'
            )
            tip = f"{name}: " if name else ""
            tip += f"{x_label} = {fx(x)}, {y_label} = {fy(y)}" + (" (chosen)" if chosen else "")
            parts.append(
                f'<circle {attrs} cx="{_f(sx(x))}" cy="{_f(sy(y))}" '
                f'data-x="{escape(fx(x))}" data-y="{escape(fy(y))}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        if legend:
            _draw_legend_entry(parts, index, name, bool(points), colour, dash_attr, right, top)
        parts.append("</g>")
    if highlight is not None:
        hx = sx(highlight)
        text = highlight_label or f"chosen: {short_number(highlight, x_step)}"
        anchor = "end" if hx > (left + right) / 2 else "start"
        offset = -6 if anchor == "end" else 6
        parts.append(
            f'<text class="sf-chart-highlight-label" x="{_f(hx + offset)}" y="{top + 12}" '
            f'text-anchor="{anchor}" fill="{HIGHLIGHT_COLOUR}" font-family="sans-serif" '
            f'font-size="12" font-weight="bold">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - generated markup, all text escaped


def _draw_legend_entry(
    parts: list[str],
    index: int,
    name: str,
    has_points: bool,
    colour: str,
    dash_attr: str,
    right: float,
    top: float,
) -> None:
    legend_x = right + 14
    legend_y = top + 8 + index * 18
    if has_points:
        parts.append(
            f'<line class="sf-chart-legend-swatch" x1="{legend_x}" x2="{legend_x + 22}" '
            f'y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="2.5"{dash_attr}/>'
        )
    label = _short(name) if has_points else f"{_short(name, 10)} (no data)"
    parts.append(
        f'<text class="sf-chart-legend" x="{legend_x + 28}" y="{legend_y + 4}" '
        f'fill="{TEXT_COLOUR if has_points else AXIS_COLOUR}" font-family="sans-serif" '
        f'font-size="11">{escape(label)}<title>{escape(name)}</title></text>'
    )


def _describe(
    named: list[tuple[str, list[Point]]],
    x_label: str,
    y_label: str,
    fx: Format,
    fy: Format,
    highlight: float | None = None,
    highlight_label: str | None = None,
) -> str:
    """The chart's <desc>: what is plotted, its range and highest value, per series."""
    plotted = [(name, points) for name, points in named if points]
    if not plotted:
        return f"No data: {y_label} against {x_label}."
    if len(named) == 1 and not named[0][0]:  # one unnamed series
        data = named[0][1]
        xs = [x for x, _ in data]
        best_x, best_y = max(data, key=lambda p: p[1])
        text = (
            f"Line chart of {y_label} against {x_label}: {len(data)} points, {x_label} from "
            f"{fx(min(xs))} to {fx(max(xs))}; highest {y_label} {fy(best_y)} at "
            f"{x_label} = {fx(best_x)}."
        )
    else:
        lines = []
        for name, points in plotted:
            xs = [x for x, _ in points]
            best_x, best_y = max(points, key=lambda p: p[1])
            mean = sum(y for _, y in points) / len(points)
            lines.append(
                f"{name}: {len(points)} point{'s' if len(points) != 1 else ''}, {x_label} "
                f"{fx(min(xs))} to {fx(max(xs))}, mean {y_label} {fy(mean)}, highest "
                f"{fy(best_y)} at {fx(best_x)}"
            )
        missing = [name for name, points in named if not points]
        text = f"Line chart of {y_label} against {x_label}, one line per series. "
        text += "; ".join(lines)
        if missing:
            text += f". No data for {', '.join(missing)}"
        text += "."
    if highlight is not None:
        value = next(
            (y for _, points in plotted for x, y in points if math.isclose(x, highlight)), None
        )
        chosen = highlight_label or f"{x_label} = {fx(highlight)}"
        text += f" Highlighted: {chosen}"
        text += f" ({y_label} {fy(value)})." if value is not None else "."
    return text


# --- The frame --------------------------------------------------------------------------------


def draw_frame(
    parts: list[str],
    *,
    x_ticks: list[float],
    y_ticks: list[float],
    box: tuple[float, float, float, float],
    height: int,
    x_label: str,
    y_label: str,
    x_tick_label: Callable[[float], str],
) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """Append grid lines, ticks, axes and axis labels for the plot area `box` (left, right, top,
    bottom) to `parts`; return the x and y scales (data → SVG coordinates)."""
    left, right, top, bottom = box
    x_min, x_max, y_min, y_max = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    inset = 10  # keeps the first and last points off the axes

    def sx(x: float) -> float:
        return left + inset + (x - x_min) / (x_max - x_min) * (right - left - 2 * inset)

    def sy(y: float) -> float:
        return bottom - (y - y_min) / (y_max - y_min) * (bottom - top)

    font = 'font-family="sans-serif" font-size="11"'
    parts.append('<g class="sf-chart-y-ticks">')
    for tick in y_ticks:
        y = sy(tick)
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{_f(y)}" y2="{_f(y)}" stroke="{GRID_COLOUR}"/>'
            f'<text x="{left - 6}" y="{_f(y + 4)}" text-anchor="end" fill="{TEXT_COLOUR}" '
            f"{font}>{escape(short_number(tick, y_step))}</text>"
        )
    parts.append('</g><g class="sf-chart-x-ticks">')
    for tick in x_ticks:
        x = sx(tick)
        parts.append(
            f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{bottom}" y2="{bottom + 5}" '
            f'stroke="{AXIS_COLOUR}"/>'
            f'<text x="{_f(x)}" y="{bottom + 18}" text-anchor="middle" fill="{TEXT_COLOUR}" '
            f"{font}>{escape(x_tick_label(tick))}</text>"
        )
    parts.append("</g>")
    parts.append(
        f'<g class="sf-chart-axes" stroke="{AXIS_COLOUR}">'
        f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/></g>'
        f'<text class="sf-chart-x-label" x="{(left + right) / 2:.1f}" y="{height - 10}" '
        f'text-anchor="middle" fill="{TEXT_COLOUR}" font-family="sans-serif" font-size="12">'
        f"{escape(x_label)}</text>"
        f'<text class="sf-chart-y-label" x="14" y="{(top + bottom) / 2:.1f}" '
        f'transform="rotate(-90 14 {(top + bottom) / 2:.1f})" text-anchor="middle" '
        f'fill="{TEXT_COLOUR}" font-family="sans-serif" font-size="12">{escape(y_label)}</text>'
    )
    return sx, sy
