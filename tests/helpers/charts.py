"""Reading the SVG charts the admin draws."""

from __future__ import annotations

import re


def y_ticks(svg: str) -> list[float]:
    """The y axis's tick values, read from their labels."""
    block = re.search(r'<g class="sf-chart-y-ticks">(.*?)</g>', svg, flags=re.S).group(1)
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", block)
    return [float(label.replace("−", "-").replace(",", "")) for label in labels]
