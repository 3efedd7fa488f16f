"""The experiment report and list in a browser: readable notes, rate axes from 0, an empty state
that says how to start; at 1280 and 390 px, in the admin's light and dark themes."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.browser.conftest import ready_photos
from tests.helpers.browser import sign_in

pytestmark = pytest.mark.browser

PASSWORD = "report-pass-123"
VIEWPORTS = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}

# WCAG relative luminance contrast of an element's text against the first opaque background
# found on it or its ancestors.
CONTRAST = """
(element) => {
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  let node = element, background = null;
  while (node && !background) {
    const parts = rgb(getComputedStyle(node).backgroundColor);
    const opaque = parts.length === 3 || (parts.length === 4 && parts[3] > 0.9);
    if (opaque) background = parts.slice(0, 3);
    node = node.parentElement;
  }
  background = background || [255, 255, 255];
  const style = getComputedStyle(element);
  const [a, b] = [luminance(rgb(style.color).slice(0, 3)), luminance(background)];
  return {
    ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
    transform: style.textTransform,
  };
}
"""


def test_report_notes_read_and_rate_axes_start_at_zero(
    live_server, transactional_db, page, test_output_dir
):
    get_user_model().objects.create_superuser("reporter", "r@example.com", PASSWORD)
    site = live_server.url
    sign_in(page, site, "reporter", PASSWORD)

    # No experiment yet: the list says what an experiment is and how to start one.
    page.goto(f"{site}/admin/experiments/experiment/")
    for width, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        empty = page.locator("#sf-experiments-empty")
        assert empty.is_visible()
        assert "simulate_traffic --create-experiment" in empty.inner_text()
        assert fits_across(empty, viewport)
        command = empty.locator("pre")
        # the whole command in sight, none of it hidden behind a sideways scroll
        assert command.evaluate("pre => pre.scrollWidth <= pre.clientWidth"), width
        page.screenshot(path=str(test_output_dir / f"report-empty-list-{width}.png"))

    ready_photos(6, prefix="report", size=(96, 64), seed=40, title="Report")
    call_command(
        "simulate_traffic", "--create-experiment", "random,style_knn", "--visitors", "30",
        stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    page.goto(f"{site}/admin/experiments/experiment/")
    page.locator("#result_list a", has_text="Report").first.click()  # this experiment's report
    page.wait_for_selector("p.sf-note")

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for width, viewport in VIEWPORTS.items():
            page.set_viewport_size(viewport)
            page.screenshot(
                path=str(test_output_dir / f"report-{width}-{scheme}.png"), full_page=True
            )
            # wide tables scroll in their own boxes; the page itself never sideways
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), width
            notes = page.locator(".sf-note")
            assert notes.count() >= 3
            for index in range(notes.count()):
                assert fits_across(notes.nth(index), viewport), (width, index)  # wraps to fit
                seen = notes.nth(index).evaluate(CONTRAST)
                assert seen["transform"] == "none", seen
                assert seen["ratio"] >= 4.5, (scheme, width, index, seen)
            for chart in ("figure.sf-daily-chart svg", "figure.sf-position-chart svg"):
                assert fits_across(page.locator(chart), viewport), (chart, width)
                labels = page.locator(f"{chart} text[text-anchor=end]").evaluate_all(
                    "texts => texts.map((text) => text.textContent.trim())"
                )
                values = [float(label) for label in labels if label.replace(".", "", 1).isdigit()]
                # a rate's axis starts at 0, never below
                assert values and min(values) == 0.0, (chart, width, labels)
    page.problems.assert_none()


def fits_across(locator, viewport: dict) -> bool:
    """The element lies within the screen's width (nothing of it to scroll sideways for)."""
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1
