"""The cluster-run admin page shows a run's sweep as a table and its configuration as a
definition list: no raw JSON, everything escaped."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from recommender.models import ClusterRun
from tests.helpers.html import section

SWEEP = [
    {"k": 2, "silhouette": 0.31, "wcss": 40.0},
    {"k": 3, "silhouette": 0.4567, "wcss": 22.5},
    {"k": 4, "silhouette": None, "wcss": 1234.56},
]
CONFIG = {
    "extractors": ["style@3", "cnn@2"],
    "features": ["cnn", "style"],
    "space": {"look_weight": 1.0, "style_weight": 0.5, "pca": {"cnn": 32, "style": None}},
    "cnn_layout": {"pooled": [0, 512], "<b>tone</b>": [512, 576]},
    "cnn_signature": "mobilenet-v3-small:" + "f" * 64,
    "neighbours_per_photo": 20,
    "clustering": {"algorithm": "kmeans", "k": None, "k_min": 2, "k_max": 20},
    "blocks": ["look", "style.tone"],
    "cnn_enabled": True,
}


@pytest.fixture
def run(db) -> ClusterRun:
    return ClusterRun.objects.create(
        status=ClusterRun.Status.READY,
        n_photos=12,
        k=3,
        algorithm="kmeans",
        silhouette=0.4567,
        wcss=22.5,
        sweep=SWEEP,
        config=CONFIG,
        duration_seconds=0.5,
        finished_at=timezone.now(),
    )


def cells(fragment: str, tag: str) -> list[str]:
    found = re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", fragment, flags=re.S)
    return [html_lib.unescape(re.sub(r"<[^>]+>", " ", cell)).strip() for cell in found]


def test_sweep_is_a_table_and_config_a_definition_list(admin_client, run):
    page = admin_client.get(reverse("admin:recommender_clusterrun_change", args=[run.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    content = section(text, '<div id="content"', '<footer id="footer"')

    # No raw JSON anywhere on the page's content.
    for raw in ('{"', "[{", "{&quot;", "[{&quot;", "&quot;k&quot;:", '"k":'):
        assert raw not in content, raw

    # The sweep: a row per k, with the silhouette and the WCSS in cells; the used k marked.
    sweep = section(content, '<table class="sf-sweep"', "</table>")
    assert cells(sweep, "th") == ["k", "silhouette", "WCSS"]
    rows = re.findall(r"<tr[^>]*>.*?</tr>", section(sweep, "<tbody>", "</tbody>"), flags=re.S)
    assert [cells(row, "td") for row in rows] == [
        ["2", "0.310", "40.0"],
        ["3", "0.457", "22.5"],
        ["4", "–", "1,234.6"],
    ]
    assert 'class="sf-chosen"' in rows[1] and "sf-chosen" not in rows[0] + rows[2]

    # The configuration: a term per key, nested values summarised in plain words.
    config = section(content, '<dl class="sf-config"', "</dl></div>")
    terms = cells(config, "dt")
    for term in ("extractors", "space", "clustering", "neighbours per photo", "cnn layout"):
        assert term in terms, terms
    values = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", config)).split())
    assert "style@3, cnn@2" in values
    assert "pooled 0–512" in values
    assert "k_min" not in values and "k min 2" in values
    assert "look weight 1" in values and "yes" in values
    assert "pca cnn 32; style –" in values
    assert "…" in values and "f" * 64 not in values  # a long signature is shortened
    # Escaped: a key that looks like markup is shown as text, never as markup.
    assert "<b>tone</b>" not in content and "&lt;b&gt;tone&lt;/b&gt;" in content


def test_a_run_without_sweep_or_config_says_so(admin_client, db):
    run = ClusterRun.objects.create(status=ClusterRun.Status.READY, k=2, sweep=[], config={})
    page = admin_client.get(reverse("admin:recommender_clusterrun_change", args=[run.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'class="sf-sweep"' not in text and 'class="sf-config"' not in text
    assert "{}" not in section(text, '<div id="content"', '<footer id="footer"')
