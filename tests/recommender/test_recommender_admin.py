"""The photographer's recommender admin: settings, re-cluster button, runs, albums, charts."""

from __future__ import annotations

import math
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from photos.models import Photo
from recommender import services
from recommender.charts import clean_points, line_chart_svg, nice_ticks, sweep_series
from recommender.models import Album, Cluster, ClusterRun, Membership, RecommenderSettings
from tests.helpers.images import image_file

SETTINGS_URL = "admin:recommender_recommendersettings_change"

SWEEP = [
    {"k": 2, "silhouette": 0.31, "wcss": 40.0},
    {"k": 3, "silhouette": 0.45, "wcss": 22.5},
    {"k": 4, "silhouette": 0.38, "wcss": 18.0},
    {"k": 5, "silhouette": None, "wcss": 16.2},
]


def settings_data(**overrides) -> dict:
    data = {
        "look_weight": "1",
        "style_weight": "0",
        "cnn_weight": "0",
        "content_weight": "0.05",
        "copy_threshold": "0.7",
        "neighbours_per_photo": "20",
        "cnn_enabled": "on",
        "cnn_pca_components": "32",
        "algorithm": "kmeans",
        "cluster_count": "",
        "k_min": "2",
        "k_max": "",
        "look_mode": "on",
        "scene_mode": "on",
        "same_scene_strip": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def bare_photo(i: int, **fields) -> Photo:
    """A photo row without files (contact sheets must cope with a missing thumbnail)."""
    return Photo.objects.create(
        original=f"originals/bare-{i}.jpg",
        original_filename=f"bare-{i}.jpg",
        title=fields.pop("title", f"Bare {i}"),
        sha256=f"{i:064x}",
        status=Photo.Status.READY,
        **fields,
    )


def make_run(photos, *, k=2, sweep=SWEEP, active=True, attributes=None) -> ClusterRun:
    """A finished run with `k` clusters (photo i goes to cluster i % k, at distance i/100)."""
    if active:
        ClusterRun.objects.filter(is_active=True).update(is_active=False)
    run = ClusterRun.objects.create(
        status=ClusterRun.Status.READY,
        is_active=active,
        n_photos=len(photos),
        k=k,
        algorithm="kmeans",
        silhouette=0.45,
        wcss=22.5,
        stability=0.87,
        sweep=sweep,
        config={"blocks": ["style.tone"]},
        duration_seconds=1.25,
        finished_at=timezone.now(),
    )
    clusters = []
    for label in range(k):
        album = Album.objects.create(auto_name=f"Warm and soft {label}")
        clusters.append(
            Cluster.objects.create(
                run=run,
                label=label,
                album=album,
                size=sum(1 for i in range(len(photos)) if i % k == label),
                cover=photos[label] if label < len(photos) else None,
                attributes=attributes if attributes is not None else ["warm", "soft contrast"],
            )
        )
    Membership.objects.bulk_create(
        Membership(run=run, photo=photo, cluster=clusters[i % k], distance=i / 100)
        for i, photo in enumerate(photos)
    )
    return run


@pytest.fixture
def photos(ingest):
    return [ingest(image_file(f"p{i}.jpg", seed=i)) for i in range(4)]


# --- Settings ---------------------------------------------------------------------------------


def test_settings_page_shows_all_sections_and_the_active_run(admin_client, photos):
    run = make_run(photos, k=3)
    RecommenderSettings.objects.update_or_create(
        pk=1, defaults={"index_dirty_since": timezone.now()}
    )
    page = admin_client.get(reverse(SETTINGS_URL, args=[1]))
    assert page.status_code == 200
    text = page.content.decode()
    headings = ("Similarity", "What similar means (modes)", "CNN features", "Albums (clustering)")
    for heading in (*headings, "Status"):
        assert f">{heading}<" in text
    assert "empty = automatic" in text
    assert 'name="k_min"' in text and 'name="k_max"' in text and 'name="algorithm"' in text
    assert "Re-cluster now" in text
    assert reverse("admin:recommender_recluster") in text
    assert reverse("admin:recommender_clusterrun_change", args=[run.pk]) in text
    assert "k = 3" in text and "silhouette 0.450" in text and "stability 0.870" in text
    assert "Index stale since" in text and "a re-cluster is pending" in text


def test_settings_page_without_a_run(admin_client, db):
    page = admin_client.get(reverse(SETTINGS_URL, args=[1]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "No active run yet" in text
    assert "Up to date" in text


def test_saving_changed_settings_requests_a_recluster(admin_client, db, monkeypatch):
    calls = []
    monkeypatch.setattr(services, "request_recluster", lambda: calls.append(1))
    url = reverse(SETTINGS_URL, args=[1])
    data = settings_data(algorithm="ward", cluster_count="6", k_min="3", k_max="9")
    response = admin_client.post(url, data, follow=True)
    assert response.status_code == 200
    knobs = RecommenderSettings.load()
    assert (knobs.algorithm, knobs.cluster_count, knobs.k_min, knobs.k_max) == ("ward", 6, 3, 9)
    assert calls == [1]
    assert "A re-cluster has been requested" in response.content.decode()

    # Saving again without changes does not ask for another run.
    admin_client.post(url, data)
    assert calls == [1]

    # Empty number of albums means automatic.
    admin_client.post(url, {**data, "cluster_count": ""})
    assert RecommenderSettings.load().cluster_count is None
    assert calls == [1, 1]


def test_modes_are_switched_off_at_once_without_a_recluster(admin_client, db, monkeypatch):
    from recommender.modes import Mode
    from recommender.selectors import mode_settings

    calls = []
    monkeypatch.setattr(services, "request_recluster", lambda: calls.append(1))
    url = reverse(SETTINGS_URL, args=[1])
    assert mode_settings().offered == frozenset(Mode)  # cached now
    response = admin_client.post(url, settings_data(scene_mode=None), follow=True)
    assert response.status_code == 200
    assert not RecommenderSettings.load().scene_mode
    assert calls == []  # a mode is a view of the run: nothing to rebuild
    modes = mode_settings()  # the saved row replaced the cached copy
    assert modes.offered == {Mode.DEFAULT, Mode.LOOK}
    assert not modes.same_scene_strip  # no scene mode, no scene strip
    admin_client.post(url, settings_data(look_mode=None, same_scene_strip=None))
    assert mode_settings().offered == {Mode.DEFAULT, Mode.SCENE}
    assert not mode_settings().same_scene_strip


def test_a_failing_recluster_request_does_not_lose_the_settings(admin_client, db, monkeypatch):
    def broken():
        raise ConnectionError("broker down")

    monkeypatch.setattr(services, "request_recluster", broken)
    response = admin_client.post(
        reverse(SETTINGS_URL, args=[1]), settings_data(style_weight="4"), follow=True
    )
    assert response.status_code == 200
    assert RecommenderSettings.load().style_weight == 4
    assert "could not be queued" in response.content.decode()


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"k_min": "1"}, "k_min", "k min must be at least 2"),
        ({"k_min": "8", "k_max": "5"}, "k_max", "k max must be at least k min (8)"),
        ({"cluster_count": "1"}, "cluster_count", "Use at least 2 albums"),
    ],
)
def test_invalid_clustering_settings_show_a_form_error(
    admin_client, db, monkeypatch, overrides, field, message
):
    calls = []
    monkeypatch.setattr(services, "request_recluster", lambda: calls.append(1))
    before = RecommenderSettings.load()
    response = admin_client.post(reverse(SETTINGS_URL, args=[1]), settings_data(**overrides))
    assert response.status_code == 200  # the form again, with its errors
    form = response.context["adminform"].form
    assert message in " ".join(form.errors[field])
    assert message in response.content.decode()
    after = RecommenderSettings.load()
    assert (after.k_min, after.k_max, after.cluster_count) == (
        before.k_min,
        before.k_max,
        before.cluster_count,
    )
    assert calls == []


# --- The re-cluster button --------------------------------------------------------------------


def test_recluster_button_runs_a_recluster(admin_client, photos):
    response = admin_client.post(reverse("admin:recommender_recluster"), follow=True)
    assert response.status_code == 200
    run = ClusterRun.objects.get(is_active=True)
    text = response.content.decode()
    assert 'class="success"' in text
    assert reverse("admin:recommender_clusterrun_change", args=[run.pk]) in text
    assert run.n_photos == len(photos)
    if hasattr(services, "recluster") and run.k:
        assert run.clusters.count() == run.k


def test_recluster_button_turns_an_exception_into_an_error_message(admin_client, db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the space <exploded>")

    monkeypatch.setattr(services, "recluster", broken)
    response = admin_client.post(reverse("admin:recommender_recluster"), follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert 'class="error"' in text
    assert "The re-cluster failed: RuntimeError: the space &lt;exploded&gt;" in text


def test_recluster_button_warns_when_nothing_was_built(admin_client, db, monkeypatch):
    result = services.RebuildResult(None, "Another re-cluster is running.")
    monkeypatch.setattr(services, "recluster", lambda *a, **kw: result)
    response = admin_client.post(reverse("admin:recommender_recluster"), follow=True)
    text = response.content.decode()
    assert 'class="warning"' in text and "Another re-cluster is running." in text


def test_recluster_button_only_answers_post(admin_client, db, monkeypatch):
    calls = []
    monkeypatch.setattr(services, "recluster", lambda *a, **kw: calls.append(1))
    response = admin_client.get(reverse("admin:recommender_recluster"))
    assert response.status_code == 405
    assert calls == []


def test_recluster_button_needs_staff(client, db):
    response = client.post(reverse("admin:recommender_recluster"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- Runs -------------------------------------------------------------------------------------


def test_runs_changelist_shows_the_scores(admin_client, photos):
    make_run(photos, k=3)
    page = admin_client.get(reverse("admin:recommender_clusterrun_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    for column in ("N photos", "K", "Algorithm", "Silhouette", "WCSS", "Stability", "Duration"):
        assert column.lower() in text.lower()
    assert "0.450" in text and "22.5" in text and "0.87" in text and "1.25 s" in text
    assert "kmeans" in text


def svg_blocks(text: str) -> list[str]:
    """The charts (the admin's own icons are SVG too)."""
    return re.findall(r'<svg\b[^>]*class="sf-chart".*?</svg>', text, flags=re.S)


def test_run_page_shows_charts_and_contact_sheets(admin_client, photos):
    run = make_run(photos, k=3, attributes=["warm", "<b>bold</b>"])
    page = admin_client.get(reverse("admin:recommender_clusterrun_change", args=[run.pk]))
    assert page.status_code == 200
    text = page.content.decode()

    charts = svg_blocks(text)
    assert len(charts) == 2
    silhouette, wcss = charts
    assert "<title" in silhouette and "Silhouette" in silhouette
    # k = 5 has no silhouette: three points, the chosen k (3) highlighted.
    assert silhouette.count("<circle") == 3
    assert 'data-points="3"' in silhouette
    assert re.search(r'class="sf-chart-point sf-chart-highlight"[^>]*data-x="3"', silhouette)
    assert "chosen k = 3" in silhouette
    assert wcss.count("<circle") == 4
    assert re.search(r'class="sf-chart-point sf-chart-highlight"[^>]*data-x="3"', wcss)
    assert not any("<script" in chart or "href" in chart for chart in charts)

    # One contact sheet per cluster, with album links, sizes, attributes and thumbnails.
    for cluster in run.clusters.select_related("album"):
        assert reverse("admin:recommender_album_change", args=[cluster.album_id]) in text
        assert cluster.album.name in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "<b>bold</b>" not in text
    thumbs = re.findall(r'<img src="([^"]+)" alt="[^"]*" loading="lazy" width="96"', text)
    assert len(thumbs) == len(photos)
    assert set(thumbs) == {photo.rendition_url("thumb") for photo in photos}
    assert "2 photos" in text and "1 photo" in text


def test_run_contact_sheet_shows_the_twelve_photos_nearest_the_centre(admin_client, db):
    photos = [bare_photo(i) for i in range(15)]
    run = make_run(photos, k=1, sweep=[])
    page = admin_client.get(reverse("admin:recommender_clusterrun_change", args=[run.pk]))
    text = page.content.decode()
    sheet = text.split('class="sf-sheet"', 1)[1].split("</ul>", 1)[0]
    # Photo i is at distance i/100, so the first twelve are the nearest.
    for i in range(12):
        assert f'title="Bare {i} — distance' in sheet
    for i in range(12, 15):
        assert f"Bare {i} " not in sheet
    assert sheet.count("no preview") == 12


def test_fixed_k_run_shows_a_note_instead_of_charts(admin_client, photos):
    run = make_run(photos, k=2, sweep=[])
    page = admin_client.get(reverse("admin:recommender_clusterrun_change", args=[run.pk]))
    text = page.content.decode()
    assert svg_blocks(text) == []
    assert "fixed number of albums (k = 2)" in text
    assert "fixed (from the settings)" in text
    assert len(re.findall(r'<img src="[^"]+" alt="[^"]*" loading="lazy" width="96"', text)) == 4


def test_failed_run_page_shows_its_error(admin_client, db):
    run = ClusterRun.objects.create(
        status=ClusterRun.Status.FAILED, error="ValueError: no photos", sweep=[]
    )
    page = admin_client.get(reverse("admin:recommender_clusterrun_change", args=[run.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "ValueError: no photos" in text
    assert "This run has no clusters (it failed)" in text


def test_run_page_query_count_does_not_grow_with_the_run(
    admin_client, db, django_assert_max_num_queries
):
    photos = [bare_photo(i) for i in range(40)]
    run = make_run(photos, k=5)
    url = reverse("admin:recommender_clusterrun_change", args=[run.pk])
    admin_client.get(url)  # warm the session and content types
    with django_assert_max_num_queries(9):
        page = admin_client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count('class="sf-cluster"') == 5


def test_the_active_run_cannot_be_deleted(admin_client, photos):
    active = make_run(photos, k=2)
    assert (
        admin_client.get(
            reverse("admin:recommender_clusterrun_delete", args=[active.pk])
        ).status_code
        == 403
    )


# --- Albums -----------------------------------------------------------------------------------


def test_album_changelist_shows_size_and_cover(admin_client, photos):
    run = make_run(photos, k=2)
    leftover = Album.objects.create(auto_name="Old album")
    page = admin_client.get(reverse("admin:recommender_album_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    first = run.clusters.get(label=0)
    assert first.album.name in text and "Old album" in text
    assert 'class="sf-cover"' in text
    assert photos[0].rendition_url("thumb") in text
    assert 'name="form-0-title"' in text and 'name="form-0-hidden"' in text
    sizes = re.findall(r'<td class="field-active_size">([^<]*)</td>', text)
    assert sorted(sizes) == ["2", "2", "–"]

    only_active = admin_client.get(reverse("admin:recommender_album_changelist") + "?active=no")
    assert "Old album" in only_active.content.decode()
    assert first.album.name not in only_active.content.decode()
    assert leftover.pk


def test_album_search(admin_client, db):
    Album.objects.create(auto_name="Moody blue nights")
    Album.objects.create(auto_name="Sunny", title="Beach days")
    page = admin_client.get(reverse("admin:recommender_album_changelist") + "?q=beach")
    text = page.content.decode()
    assert "Beach days" in text and "Moody blue nights" not in text


def test_albums_are_renamed_and_hidden_from_the_list(admin_client, photos):
    make_run(photos, k=2)
    first, second = Album.objects.order_by("pk")
    data = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": str(first.pk),
        "form-0-title": "Golden hour",
        "form-0-hidden": "",
        "form-1-id": str(second.pk),
        "form-1-title": "",
        "form-1-hidden": "on",
        "_save": "Save",
    }
    response = admin_client.post(reverse("admin:recommender_album_changelist"), data)
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.name, first.hidden) == ("Golden hour", False)
    assert (second.title, second.hidden, second.name) == ("", True, "Warm and soft 1")


def test_album_page_shows_its_photos_and_saves_a_new_name(admin_client, photos):
    make_run(photos, k=2)
    album = Cluster.objects.get(run__is_active=True, label=1).album
    url = reverse("admin:recommender_album_change", args=[album.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Photos in the active run" in text
    thumbs = re.findall(r'<img src="([^"]+)" alt="[^"]*" loading="lazy" width="96"', text)
    assert thumbs == [photos[1].rendition_url("thumb"), photos[3].rendition_url("thumb")]
    assert "Add album" not in text

    response = admin_client.post(url, {"title": "Soft light", "hidden": "on"})
    assert response.status_code == 302
    album.refresh_from_db()
    assert (album.name, album.hidden, album.auto_name) == ("Soft light", True, "Warm and soft 1")


def test_album_without_photos_in_the_active_run(admin_client, db):
    album = Album.objects.create(auto_name="Gone")
    page = admin_client.get(reverse("admin:recommender_album_change", args=[album.pk]))
    assert page.status_code == 200
    assert "no photos in the active run" in page.content.decode()


# --- Charts -----------------------------------------------------------------------------------


def test_chart_escapes_every_text():
    svg = line_chart_svg(
        [(2, 0.1), (3, 0.2)],
        title='<script>alert("t")</script>',
        x_label="k & <x>",
        y_label="'y' \"label\"",
        highlight_x=3,
        highlight_label="<chosen>",
    )
    assert "<script" not in svg
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in svg
    assert "k &amp; &lt;x&gt;" in svg
    assert "&#x27;y&#x27; &quot;label&quot;" in svg
    assert "&lt;chosen&gt;" in svg and "<chosen>" not in svg
    # No external resources, no script, no event handlers.
    assert "href" not in svg and " on" not in svg.replace(" one", "")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg.count("http") == 1


def test_chart_is_accessible():
    svg = line_chart_svg([(2, 1.0), (3, 2.0)], title="WCSS", x_label="k", y_label="WCSS")
    chart_id = re.search(r'<title id="([^"]+)-title">WCSS</title>', svg).group(1)
    assert f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in svg
    assert 'role="img"' in svg
    assert f'<desc id="{chart_id}-desc">' in svg


def test_chart_skips_none_and_non_finite_values():
    svg = line_chart_svg(
        [(2, 0.5), (3, None), (None, 1), (4, math.nan), (5, math.inf), (6, 0.7), ("x", 1)],
        title="t",
        x_label="k",
        y_label="s",
    )
    assert svg.count("<circle") == 2
    assert 'data-points="2"' in svg
    polyline = re.search(r'<polyline[^>]*points="([^"]+)"', svg).group(1)
    assert len(polyline.split()) == 2


def test_chart_with_no_data_says_so():
    for points in ([], None, [(2, None), (3, None)]):
        svg = line_chart_svg(points, title="Silhouette", x_label="k", y_label="s", highlight_x=3)
        assert "No data to plot." in svg
        assert "<circle" not in svg and "<polyline" not in svg
        assert "<title" in svg


def test_chart_with_one_point_and_flat_values():
    one = line_chart_svg([(4, 0.3)], title="t", x_label="k", y_label="s", highlight_x=4)
    assert one.count("<circle") == 1 and "sf-chart-highlight" in one
    flat = line_chart_svg([(2, 5.0), (3, 5.0), (4, 5.0)], title="t", x_label="k", y_label="s")
    assert flat.count("<circle") == 3
    assert "nan" not in flat.lower()


def test_chart_highlight_outside_the_points_draws_only_the_guide():
    svg = line_chart_svg([(2, 0.3), (3, 0.4)], title="t", x_label="k", y_label="s", highlight_x=5)
    assert "sf-chart-highlight-guide" in svg
    assert 'class="sf-chart-point sf-chart-highlight"' not in svg


def test_chart_points_follow_the_data():
    svg = line_chart_svg(
        [(3, 0.2), (2, 0.1), (4, 0.4)], title="t", x_label="k", y_label="s", width=300, height=200
    )
    cx = [float(v) for v in re.findall(r'<circle[^>]*cx="([\d.]+)"', svg)]
    cy = [float(v) for v in re.findall(r'<circle[^>]*cy="([\d.]+)"', svg)]
    assert cx == sorted(cx)  # sorted by k, left to right
    assert cy[0] > cy[1] > cy[2]  # higher values are drawn higher up
    assert 'width="300"' in svg and 'viewBox="0 0 300 200"' in svg


def test_sweep_series_and_ticks():
    assert sweep_series(SWEEP, "silhouette") == [(2.0, 0.31), (3.0, 0.45), (4.0, 0.38)]
    assert sweep_series(SWEEP, "wcss")[-1] == (5.0, 16.2)
    assert sweep_series(None, "wcss") == [] and sweep_series(["junk", {}], "wcss") == []
    assert clean_points([(1, 2), (1, None)]) == [(1.0, 2.0)]
    assert nice_ticks(2, 10, 9, integer=True) == [float(k) for k in range(2, 11)]
    ticks = nice_ticks(0.12, 0.41, 5)
    assert ticks[0] <= 0.12 and ticks[-1] >= 0.41
