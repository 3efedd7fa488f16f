"""Small, dependency-free SVG charts for the admin dashboards.

Pure functions: numbers in, markup out. Every piece of text is escaped; the markup has no
external resources and no script, so it can be inlined in any admin page.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Point = tuple[float, float]

# Colours chosen to read on the admin's light and dark themes (the chart has its own background).
AXIS_COLOUR = "#666666"
GRID_COLOUR = "#e4e4e4"
LINE_COLOUR = "#417690"
HIGHLIGHT_COLOUR = "#ba2121"
TEXT_COLOUR = "#333333"
BACKGROUND = "#ffffff"

MARGIN_LEFT = 64
MARGIN_RIGHT = 20
MARGIN_TOP = 34
MARGIN_BOTTOM = 48


def clean_points(points: Iterable[Sequence[object]] | None) -> list[Point]:
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


def nice_ticks(low: float, high: float, max_ticks: int = 6, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high == low:
        pad = 1.0 if integer or low == 0 else abs(low) * 0.1
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
    return [start + i * step for i in range(count)]


def format_number(value: float, step: float | None = None) -> str:
    """A short label: as many decimals as the tick step needs, thousands separated."""
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


def _chart_id(title: str, points: list[Point]) -> str:
    digest = hashlib.sha1(repr((title, points)).encode(), usedforsecurity=False).hexdigest()
    return f"sf-chart-{digest[:10]}"


def _f(value: float) -> str:
    return f"{value:.1f}"


def line_chart_svg(
    points: Iterable[Sequence[object]] | None,
    *,
    title: str,
    x_label: str,
    y_label: str,
    highlight_x: float | None = None,
    highlight_label: str | None = None,
    width: int = 400,
    height: int = 260,
) -> SafeString:
    """An accessible line chart of `points` as inline SVG.

    Points with a missing (None) or non-finite coordinate are skipped. `highlight_x` marks one
    x value (the chosen k): a dashed guide line, a larger red dot and a label. With no points left
    the chart says so instead of drawing axes.
    """
    data = clean_points(points)
    chart_id = _chart_id(title, data)
    integer_x = all(x.is_integer() for x, _ in data)
    highlight = None
    if highlight_x is not None:
        try:
            highlight = float(highlight_x)
        except (TypeError, ValueError):
            highlight = None
        if highlight is not None and not math.isfinite(highlight):
            highlight = None

    parts: list[str] = []
    description = _describe(data, x_label, y_label, highlight, highlight_label)
    parts.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sf-chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" data-points="{len(data)}">'
    )
    parts.append(f'<title id="{chart_id}-title">{escape(title)}</title>')
    parts.append(f'<desc id="{chart_id}-desc">{escape(description)}</desc>')
    parts.append(f'<rect width="{width}" height="{height}" fill="{BACKGROUND}" rx="4"/>')
    parts.append(
        f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14" '
        f'font-weight="bold" fill="{TEXT_COLOUR}" font-family="sans-serif">{escape(title)}</text>'
    )
    if not data:
        parts.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" font-size="13" '
            f'fill="{AXIS_COLOUR}" font-family="sans-serif">No data to plot.</text>'
        )
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 - generated markup, all text escaped

    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    xs = [x for x, _ in data]
    ys = [y for _, y in data]
    x_low, x_high = min(xs), max(xs)
    if highlight is not None:
        x_low, x_high = min(x_low, highlight), max(x_high, highlight)
    x_tick_count = min(10, max(2, int(x_high - x_low) + 1)) if integer_x else 6
    x_ticks = nice_ticks(x_low, x_high, max_ticks=x_tick_count, integer=integer_x)
    y_ticks = nice_ticks(min(ys), max(ys), max_ticks=5)
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0

    sx, sy = draw_frame(
        parts,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        box=(left, right, top, bottom),
        height=height,
        x_label=x_label,
        y_label=y_label,
        x_tick_label=lambda tick: format_number(tick, x_step),
    )
    # Highlighted x: a guide line under the data.
    if highlight is not None:
        hx = sx(highlight)
        parts.append(
            f'<line class="sf-chart-highlight-guide" x1="{_f(hx)}" x2="{_f(hx)}" y1="{top}" '
            f'y2="{bottom}" stroke="{HIGHLIGHT_COLOUR}" stroke-dasharray="4 3" '
            f'stroke-width="1.5"/>'
        )
    # The line and its points.
    polyline = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y in data)
    parts.append(
        f'<polyline class="sf-chart-line" points="{polyline}" fill="none" '
        f'stroke="{LINE_COLOUR}" stroke-width="2" stroke-linejoin="round"/>'
    )
    parts.append(f'<g class="sf-chart-points" fill="{LINE_COLOUR}">')
    for x, y in data:
        is_highlight = highlight is not None and math.isclose(x, highlight)
        attrs = (
            f'class="sf-chart-point sf-chart-highlight" r="6" fill="{HIGHLIGHT_COLOUR}" '
            f'stroke="{BACKGROUND}" stroke-width="2"'
            if is_highlight
            else 'class="sf-chart-point" r="3.5"'
        )
        label = f"{x_label} = {format_number(x, x_step)}, {y_label} = {format_number(y)}" + (
            " (chosen)" if is_highlight else ""
        )
        parts.append(
            f'<circle {attrs} cx="{_f(sx(x))}" cy="{_f(sy(y))}" '
            f'data-x="{escape(format_number(x))}" data-y="{escape(format_number(y))}">'
            f"<title>{escape(label)}</title></circle>"
        )
    parts.append("</g>")
    if highlight is not None:
        hx = sx(highlight)
        text = highlight_label or f"chosen: {format_number(highlight, x_step)}"
        anchor = "end" if hx > (left + right) / 2 else "start"
        offset = -6 if anchor == "end" else 6
        parts.append(
            f'<text class="sf-chart-highlight-label" x="{_f(hx + offset)}" y="{top + 12}" '
            f'text-anchor="{anchor}" fill="{HIGHLIGHT_COLOUR}" font-family="sans-serif" '
            f'font-size="12" font-weight="bold">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - generated markup, all text escaped


def _describe(
    data: list[Point],
    x_label: str,
    y_label: str,
    highlight: float | None,
    highlight_label: str | None,
) -> str:
    if not data:
        return f"No data: {y_label} against {x_label}."
    xs = [x for x, _ in data]
    best_x, best_y = max(data, key=lambda p: p[1])
    text = (
        f"Line chart of {y_label} against {x_label}: {len(data)} points, {x_label} from "
        f"{format_number(min(xs))} to {format_number(max(xs))}; highest {y_label} "
        f"{format_number(best_y)} at {x_label} = {format_number(best_x)}."
    )
    if highlight is not None:
        value = next((y for x, y in data if math.isclose(x, highlight)), None)
        chosen = highlight_label or f"{x_label} = {format_number(highlight)}"
        text += f" Highlighted: {chosen}"
        text += f" ({y_label} {format_number(value)})." if value is not None else "."
    return text


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
            f"{font}>{escape(format_number(tick, y_step))}</text>"
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
