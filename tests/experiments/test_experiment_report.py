"""The experiment report over real event rows: loader, command, API and admin dashboard."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from experiments.formatting import format_interval, format_number, format_p_value, format_percent
from experiments.models import Click, Experiment, Impression, PageTime, Variant
from experiments.ranking import ndcg_at_k
from experiments.selectors import experiment_report, load_events
from experiments.statistics import mean_ci, two_proportion_z_test, wilson_interval
from tests.helpers.images import image_file

VARIANT_KEYS = {
    "name",
    "strategy",
    "visitors",
    "visits",
    "impressions",
    "clicks",
    "ctr",
    "ctr_ci",
    "ctp",
    "ctp_ci",
    "clicks_per_visit",
    "clicks_per_visit_ci",
    "seconds_per_visit",
    "seconds_per_visit_ci",
}
RANKING_KEYS = {
    "precision@5",
    "recall@5",
    "precision@10",
    "recall@10",
    "mrr",
    "ndcg@10",
    "roc_auc",
    "mae",
    "rmse",
}
DAY_1 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DAY_2 = DAY_1 + timedelta(days=1)


@pytest.fixture
def photos(ingest):
    return [ingest(image_file(f"m{i}.jpg", seed=i)) for i in range(4)]


def impression(experiment, variant, strategy, visitor, visit, photos, scores, when=DAY_1):
    row = Impression.objects.create(
        token=uuid.uuid4(),
        visitor_id=visitor,
        visit_id=visit,
        experiment=experiment,
        variant=variant,
        strategy=strategy,
        source="photo",
        source_photo=photos[0],
        items=[
            {"photo": photo.pk, "position": i + 1, "score": score}
            for i, (photo, score) in enumerate(zip(photos[1:], scores, strict=False))
        ],
    )
    Impression.objects.filter(pk=row.pk).update(created_at=when)
    return row


def click(row: Impression, position: int) -> Click:
    target = row.items[position - 1]["photo"]
    return Click.objects.create(
        impression=row,
        visitor_id=row.visitor_id,
        visit_id=row.visit_id,
        variant=row.variant,
        target_id=target,
        position=position,
    )


def page_time(experiment, variant, visitor, visit, seconds) -> PageTime:
    return PageTime.objects.create(
        visitor_id=visitor,
        visit_id=visit,
        experiment=experiment,
        variant=variant,
        path="/photos/1/",
        page_view=uuid.uuid4(),
        seconds=seconds,
    )


@pytest.fixture
def experiment(photos):
    """knn (3 impressions, 3 clicks), control (2 impressions, 1 click), off (no list), plus an
    event outside the experiment."""
    exp = Experiment.objects.create(name="Style vs random", is_active=True)
    Variant.objects.create(experiment=exp, name="control", strategy="random", weight=1)
    Variant.objects.create(experiment=exp, name="knn", strategy="style_knn", weight=1)
    Variant.objects.create(experiment=exp, name="off", strategy="none", weight=1)
    Variant.objects.create(experiment=exp, name="idle", strategy="cluster", weight=0.5)
    scores = [0.9, 0.7, 0.5]
    k1 = impression(exp, "knn", "style_knn", "u1", "v1", photos, scores)
    impression(exp, "knn", "style_knn", "u1", "v1", photos, scores)
    k3 = impression(exp, "knn", "style_knn", "u2", "v2", photos, scores, when=DAY_2)
    click(k1, 1)
    click(k1, 3)
    click(k3, 2)
    impression(exp, "control", "random", "u3", "v3", photos, [0.2, 0.6, 0.4])
    c2 = impression(exp, "control", "random", "u4", "v4", photos, [0.3, 0.1, 0.8], when=DAY_2)
    click(c2, 3)
    page_time(exp, "knn", "u1", "v1", 10)
    page_time(exp, "knn", "u1", "v1", 20)
    page_time(exp, "knn", "u2", "v2", 60)
    page_time(exp, "control", "u3", "v3", 12)
    page_time(exp, "off", "u5", "v5", 5)
    page_time(exp, "off", "u6", "v6", 15)
    # Outside the experiment: only in the all-events report.
    outside = impression(None, "style_knn", "style_knn", "u9", "v9", photos, scores)
    click(outside, 1)
    page_time(None, "style_knn", "u9", "v9", 30)
    return exp


def by_name(report):
    return {v["name"]: v for v in report["variants"]}


# --- The report -------------------------------------------------------------------------------


def test_report_shape(experiment):
    report = experiment_report(experiment)
    json.dumps(report, allow_nan=False)
    assert set(report) == {
        "experiment", "variants", "comparisons", "ranking", "daily", "positions", "screened",
        "sample_ratio",
    }  # fmt: skip
    ratio = report["sample_ratio"]
    assert list(ratio["visitors"]) == ["control", "knn", "off", "idle"]
    assert ratio["visitors"] == {row["name"]: row["visitors"] for row in report["variants"]}
    assert sum(ratio["expected_share"].values()) == pytest.approx(1.0)
    assert report["experiment"]["id"] == experiment.pk
    assert report["experiment"]["name"] == "Style vs random"
    assert report["experiment"]["is_running"] is True
    assert [v["name"] for v in report["experiment"]["variants"]] == [
        "control",
        "knn",
        "off",
        "idle",
    ]
    assert [v["name"] for v in report["variants"]] == ["control", "knn", "off", "idle"]
    for row in report["variants"]:
        assert set(row) >= VARIANT_KEYS
    for comparison in report["comparisons"]:
        assert {"a", "b", "uplift", "uplift_ci", "difference", "p_value"} <= set(comparison)
    assert len(report["comparisons"]) == 6  # every pair of four variants
    assert set(report["ranking"]) == {"control", "knn", "off", "idle"}
    for metrics in report["ranking"].values():
        assert set(metrics) >= RANKING_KEYS


def test_report_numbers(experiment):
    report = experiment_report(experiment)
    rows = by_name(report)
    knn, control, off, idle = rows["knn"], rows["control"], rows["off"], rows["idle"]

    assert (knn["visitors"], knn["visits"], knn["impressions"], knn["clicks"]) == (2, 2, 3, 3)
    assert knn["strategy"] == "style_knn"
    assert knn["ctr"] == pytest.approx(1.0)
    mean, interval = mean_ci([2, 0, 1])
    assert knn["ctr_ci"] == pytest.approx([max(0.0, interval[0]), interval[1]])
    assert knn["ctp"] == pytest.approx(2 / 3)
    assert knn["ctp_ci"] == pytest.approx(list(wilson_interval(2, 3)))
    assert knn["clicks_per_visit"] == pytest.approx(1.5)
    assert knn["seconds_per_visit"] == pytest.approx(45.0)

    assert (control["impressions"], control["clicks"], control["ctp"]) == (2, 1, 0.5)
    assert control["clicks_per_visit"] == pytest.approx(0.5)
    assert control["seconds_per_visit"] == pytest.approx(12.0)

    # No recommendations shown: visits and time, but no CTR.
    assert (off["visitors"], off["visits"], off["impressions"], off["clicks"]) == (2, 2, 0, 0)
    assert off["ctr"] is None and off["ctr_ci"] is None and off["ctp"] is None
    assert off["seconds_per_visit"] == pytest.approx(10.0)
    # A variant without any event.
    assert (idle["visits"], idle["impressions"]) == (0, 0)
    assert idle["clicks_per_visit"] is None and idle["seconds_per_visit"] is None

    pairs = {(c["a"], c["b"]): c for c in report["comparisons"]}
    c = pairs[("control", "knn")]
    assert c["uplift"] == pytest.approx((2 / 3) / 0.5 - 1)
    assert c["difference"] == pytest.approx(2 / 3 - 0.5)
    assert c["p_value"] == pytest.approx(two_proportion_z_test(1, 2, 2, 3)[1])
    assert pairs[("control", "off")]["p_value"] is None
    assert pairs[("control", "off")]["uplift"] is None

    ranking = report["ranking"]["knn"]
    assert ranking["impressions_evaluated"] == 2
    assert ranking["mrr"] == pytest.approx((1 + 1 / 2) / 2)
    assert ranking["precision@5"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert ranking["recall@5"] == pytest.approx(1.0)
    assert ranking["ndcg@10"] == pytest.approx(
        (ndcg_at_k([1, 0, 1], 10) + ndcg_at_k([0, 1, 0], 10)) / 2
    )
    # knn: clicked scores 0.9, 0.5 (k1) and 0.7 (k3) against the unclicked 0.7 (k1), 0.9, 0.7,
    # 0.5 (k2), 0.9, 0.5 (k3): wins 4 + 0 + 2 and ties (½ each) 2 + 2 + 2 of 18 pairs.
    assert ranking["roc_auc"] == pytest.approx(9 / 18)
    assert report["ranking"]["control"]["roc_auc"] == pytest.approx(1.0)  # 0.8 clicked is top
    assert report["ranking"]["off"]["mrr"] is None and report["ranking"]["off"]["mae"] is None

    assert report["daily"]["knn"] == [
        {"day": "2024-05-01", "impressions": 2, "clicks": 2, "ctr": 1.0, "ctp": 0.5},
        {"day": "2024-05-02", "impressions": 1, "clicks": 1, "ctr": 1.0, "ctp": 1.0},
    ]
    assert report["positions"]["control"] == [
        {"position": 1, "impressions": 2, "clicks": 0, "ctr": 0.0},
        {"position": 2, "impressions": 2, "clicks": 0, "ctr": 0.0},
        {"position": 3, "impressions": 2, "clicks": 1, "ctr": 0.5},
    ]
    assert report["positions"]["off"] == [] and report["daily"]["idle"] == []


def test_report_on_all_events(experiment):
    report = experiment_report(None)
    assert report["experiment"] is None
    rows = by_name(report)
    assert set(rows) == {"style_knn", "control", "knn", "off"}  # names seen in the events
    assert rows["style_knn"]["impressions"] == 1 and rows["style_knn"]["clicks"] == 1
    assert rows["knn"]["impressions"] == 3
    assert sum(v["impressions"] for v in report["variants"]) == Impression.objects.count()
    assert experiment_report(experiment.pk) == experiment_report(experiment)


def test_loader_reads_each_table_once(experiment, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        data = load_events(experiment)
    assert data.n_impressions == 5
    assert data.item_impression.size == 15
    assert int(data.item_clicked.sum()) == 4


def test_report_of_an_experiment_without_events(db):
    exp = Experiment.objects.create(name="Empty")
    Variant.objects.create(experiment=exp, name="a", strategy="style_knn")
    Variant.objects.create(experiment=exp, name="b", strategy="random")
    report = experiment_report(exp)
    assert [v["impressions"] for v in report["variants"]] == [0, 0]
    assert report["comparisons"][0]["p_value"] is None
    assert report["daily"] == {"a": [], "b": []}
    json.dumps(report, allow_nan=False)


# --- Command ----------------------------------------------------------------------------------


def test_command_prints_a_table_of_the_active_experiment(experiment):
    out = StringIO()
    call_command("experiment_report", stdout=out)
    text = out.getvalue()
    assert "Style vs random" in text
    for name in ("control", "knn", "off", "idle"):
        assert name in text
    assert "Comparisons" in text and "p-value" in text and "ndcg@10" in text
    report = experiment_report(experiment)
    c = next(c for c in report["comparisons"] if (c["a"], c["b"]) == ("control", "knn"))
    assert f"{c['p_value']:.4f}" in text
    assert "66.67%" in text  # knn's CTP


def test_command_json_is_the_report(experiment):
    out = StringIO()
    call_command("experiment_report", "--json", stdout=out)
    assert json.loads(out.getvalue()) == experiment_report(experiment)
    out = StringIO()
    call_command("experiment_report", "--json", "--all", stdout=out)
    assert json.loads(out.getvalue())["experiment"] is None
    out = StringIO()
    call_command("experiment_report", "--json", "--experiment", str(experiment.pk), stdout=out)
    assert json.loads(out.getvalue())["experiment"]["id"] == experiment.pk


def test_command_without_an_active_experiment_reports_all_events(experiment):
    Experiment.objects.update(is_active=False)
    out = StringIO()
    call_command("experiment_report", "--json", stdout=out)
    assert json.loads(out.getvalue())["experiment"] is None
    out = StringIO()
    call_command("experiment_report", stdout=out)
    assert "All events" in out.getvalue()


def test_command_rejects_an_unknown_experiment(db):
    with pytest.raises(CommandError, match="no experiment 999"):
        call_command("experiment_report", "--experiment", "999")


# --- API --------------------------------------------------------------------------------------


@pytest.fixture
def staff_api(db):
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_gives_staff_the_report(experiment, staff_api):
    url = reverse("api:metrics")
    response = staff_api.get(url)
    assert response.status_code == 200
    assert response.json() == experiment_report(experiment)
    response = staff_api.get(url, {"experiment": experiment.pk})
    assert response.json()["experiment"]["id"] == experiment.pk
    assert staff_api.get(url, {"experiment": "all"}).json()["experiment"] is None
    assert staff_api.get(url, {"experiment": "999"}).status_code == 404
    assert staff_api.get(url, {"experiment": "x"}).status_code == 400


def test_api_refuses_visitors(experiment):
    url = reverse("api:metrics")
    assert APIClient().get(url).status_code == 401  # not signed in: asked for a token
    user = get_user_model().objects.create_user("visitor", password="pw")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(url).status_code == 403


# --- Admin ------------------------------------------------------------------------------------


def test_dashboard_shows_the_report_with_both_charts(admin_client, experiment):
    response = admin_client.get(
        reverse("admin:experiments_experiment_report", args=[experiment.pk])
    )
    assert response.status_code == 200
    html = response.content.decode()
    charts = re.findall(r"<svg[^>]*sf-multi-chart.*?</svg>", html, flags=re.S)
    assert len(charts) == 2
    assert "CTR by variant over time" in charts[0] and "Clicks by position" in charts[1]
    assert all("<script" not in chart for chart in charts)
    assert charts[0].count('class="sf-chart-line"') == 2  # knn and control have two days
    report = experiment_report(experiment)
    for row in report["variants"]:
        assert f'data-variant="{row["name"]}"' in html
        assert format_number(row["ctr"]) in html
        assert format_percent(row["ctp"]) in html
        assert format_interval(row["ctp_ci"], 2, percent=True) in html
        assert format_number(row["seconds_per_visit"], 1) in html
    for c in report["comparisons"]:
        assert format_p_value(c["p_value"]) in html
        assert format_interval(c["uplift_ci"], 1, percent=True, signed=True) in html
    assert format_number(report["ranking"]["knn"]["mrr"]) in html
    assert format_number(report["ranking"]["knn"]["ndcg@10"]) in html


def test_dashboard_on_all_events_and_links(admin_client, experiment):
    response = admin_client.get(reverse("admin:experiments_experiment_report_all"))
    assert response.status_code == 200
    assert "all</strong> recorded events" in response.content.decode()
    report_url = reverse("admin:experiments_experiment_report", args=[experiment.pk])
    changelist = admin_client.get(reverse("admin:experiments_experiment_changelist"))
    assert report_url in changelist.content.decode()
    assert reverse("admin:experiments_experiment_report_all") in changelist.content.decode()
    change = admin_client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))
    assert report_url in change.content.decode()
    missing = admin_client.get(reverse("admin:experiments_experiment_report", args=[999]))
    assert missing.status_code == 302


def test_dashboard_is_for_staff_only(client, experiment):
    url = reverse("admin:experiments_experiment_report", args=[experiment.pk])
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]


def experiment_form(**overrides) -> dict:
    data = {
        "name": "New test",
        "description": "",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "1",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-name": "control",
        "variants-0-strategy": "random",
        "variants-0-weight": "1",
        "variants-1-name": "knn",
        "variants-1-strategy": "style_knn",
        "variants-1-weight": "1",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_admin_creates_an_experiment_with_variants(admin_client, db):
    response = admin_client.post(
        reverse("admin:experiments_experiment_add"), experiment_form(is_active="on")
    )
    assert response.status_code == 302
    exp = Experiment.objects.get(name="New test")
    assert exp.is_active
    assert [(v.name, v.strategy) for v in exp.variants.all()] == [
        ("control", "random"),
        ("knn", "style_knn"),
    ]


def test_admin_allows_only_one_active_experiment(admin_client, db):
    Experiment.objects.create(name="Running one", is_active=True)
    response = admin_client.post(
        reverse("admin:experiments_experiment_add"), experiment_form(is_active="on")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "is_active" in errors
    assert "Only one experiment can be active" in errors["is_active"][0]
    assert "Running one" in errors["is_active"][0]
    assert not Experiment.objects.filter(name="New test").exists()
    # Inactive, it can be saved.
    response = admin_client.post(reverse("admin:experiments_experiment_add"), experiment_form())
    assert response.status_code == 302


def test_admin_saves_the_active_experiment_itself(admin_client, db):
    exp = Experiment.objects.create(name="Running one", is_active=True)
    variant = Variant.objects.create(experiment=exp, name="only", strategy="style_knn")
    data = experiment_form(
        name="Running one, renamed",
        is_active="on",
        **{
            "variants-TOTAL_FORMS": "1",
            "variants-INITIAL_FORMS": "1",
            "variants-0-id": str(variant.pk),
            "variants-0-experiment": str(exp.pk),
            "variants-0-name": "only",
            "variants-0-strategy": "style_knn",
            "variants-0-weight": "2",
        },
    )
    data = {k: v for k, v in data.items() if not k.startswith("variants-1-")}
    url = reverse("admin:experiments_experiment_change", args=[exp.pk])
    assert admin_client.post(url, data).status_code == 302
    exp.refresh_from_db()
    assert exp.is_active and exp.name == "Running one, renamed"
    assert exp.variants.get().weight == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"variants-TOTAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0"}, "at least one variant"),
        ({"variants-1-weight": "0"}, "greater than 0"),
        ({"variants-1-weight": "-2"}, "greater than 0"),
        ({"variants-1-name": "control"}, "control"),
        (
            {
                "starts_at_0": "2024-05-02",
                "starts_at_1": "00:00",
                "ends_at_0": "2024-05-01",
                "ends_at_1": "00:00",
            },
            "The end must be after the start.",
        ),
    ],
)
def test_admin_validates_variants_and_dates(admin_client, db, overrides, message):
    response = admin_client.post(
        reverse("admin:experiments_experiment_add"), experiment_form(**overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Experiment.objects.exists()


def test_admin_refuses_to_delete_the_last_variant(admin_client, db):
    exp = Experiment.objects.create(name="One variant")
    variant = Variant.objects.create(experiment=exp, name="only", strategy="style_knn")
    data = experiment_form(
        name="One variant",
        **{
            "variants-TOTAL_FORMS": "1",
            "variants-INITIAL_FORMS": "1",
            "variants-0-id": str(variant.pk),
            "variants-0-experiment": str(exp.pk),
            "variants-0-name": "only",
            "variants-0-strategy": "style_knn",
            "variants-0-DELETE": "on",
        },
    )
    data = {k: v for k, v in data.items() if not k.startswith("variants-1-")}
    response = admin_client.post(
        reverse("admin:experiments_experiment_change", args=[exp.pk]), data
    )
    assert response.status_code == 200
    assert "at least one variant" in response.content.decode()
    assert exp.variants.count() == 1


def test_make_active_action_switches_the_active_experiment(admin_client, db):
    old = Experiment.objects.create(name="Old", is_active=True)
    new = Experiment.objects.create(name="New")
    response = admin_client.post(
        reverse("admin:experiments_experiment_changelist"),
        {"action": "make_active", "_selected_action": [new.pk]},
        follow=True,
    )
    assert response.status_code == 200
    old.refresh_from_db()
    new.refresh_from_db()
    assert new.is_active and not old.is_active


def test_event_tables_are_read_only_in_the_admin(admin_client, experiment):
    response = admin_client.get(reverse("admin:experiments_impression_changelist"))
    assert response.status_code == 200
    assert admin_client.get(reverse("admin:experiments_click_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:experiments_pagetime_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:experiments_impression_add")).status_code == 403


def test_the_report_leaves_out_and_shows_one_address_behind_many_visitors(
    admin_client, experiment, photos, settings
):
    settings.STYLEFINDER_AB_MAX_VISITORS_PER_ADDRESS = 3
    before = experiment_report(experiment)
    assert before["screened"]["addresses"] == 0
    for i in range(5):  # one machine, five made-up visitors, all in "knn"
        row = impression(experiment, "knn", "style_knn", f"bot{i}", f"v{i}", photos, [0.9, 0.8])
        Impression.objects.filter(pk=row.pk).update(client="0123456789abcdef")
    after = experiment_report(experiment)
    assert after["screened"] == {
        "max_visitors_per_address": 3,
        "min_click_seconds": 0.5,
        "addresses": 1,
        "fast_clickers": 0,
        "implausible_dwellers": 0,
        "visitors": 5,
        "impressions": 5,
        "clicks": 0,
        "page_times": 0,
    }
    knn = lambda report: next(r for r in report["variants"] if r["name"] == "knn")  # noqa: E731
    assert knn(after)["impressions"] == knn(before)["impressions"]
    html = admin_client.get(
        reverse("admin:experiments_experiment_report", args=[experiment.pk])
    ).content.decode()
    assert "Left out as suspicious: 1 address behind more than 3 visitor ids each" in html
    assert "(5 visitors, 5 impressions, 0 clicks, 0 page times)" in html


def test_an_empty_experiment_list_says_how_to_start(admin_client, db):
    changelist = reverse("admin:experiments_experiment_changelist")
    html = admin_client.get(changelist).content.decode()
    assert 'id="sf-experiments-empty"' in html
    assert reverse("admin:experiments_experiment_add") in html
    assert "python manage.py simulate_traffic --create-experiment random,style_knn" in html
    assert "admin-extra/experiments.css" in html

    Experiment.objects.create(name="Live", is_active=False)
    html = admin_client.get(changelist).content.decode()
    assert 'id="sf-experiments-empty"' not in html
    assert "Live" in html


def test_the_command_the_empty_states_give_runs(db, ingest, settle):
    """The example is a real invocation of simulate_traffic, not prose that may drift."""
    for seed in range(4):
        ingest(image_file(f"sim-{seed}.jpg", seed=seed), title=f"Sim {seed}")
    settle()
    out = StringIO()
    call_command(
        "simulate_traffic", "--create-experiment", "random,style_knn", "--visitors", "3",
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    assert "Created and activated experiment" in out.getvalue()


def test_a_report_without_events_says_how_to_get_data_and_draws_no_chart(admin_client, db):
    experiment = Experiment.objects.create(name="Quiet", is_active=True)
    Variant.objects.create(experiment=experiment, name="a", strategy="style_knn", weight=1)
    html = admin_client.get(
        reverse("admin:experiments_experiment_report", args=[experiment.pk])
    ).content.decode()
    assert "No events yet" in html
    assert f"python manage.py simulate_traffic --experiment {experiment.pk} --visitors 300" in html
    assert "sf-multi-chart" not in html  # no empty charts
    assert "admin-extra/experiments.css" in html


def test_report_notes_are_styled_as_text_not_as_module_headers():
    from django.contrib.staticfiles import finders

    css = Path(finders.find("admin-extra/experiments.css")).read_text(encoding="utf-8")
    rule = css[css.index(".sf-report p.sf-note") :].split("}")[0]
    assert "text-transform: none" in rule
    assert "color: var(--body-fg" in rule and "background: var(--darkened-bg" in rule
