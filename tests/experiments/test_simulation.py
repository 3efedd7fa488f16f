"""The traffic simulator (experiments.simulation, `manage.py simulate_traffic`): simulated visitors
browse the real photo pages and post the real events."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError, OutputWrapper
from django.core.servers.basehttp import get_internal_wsgi_application
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from experiments.management.commands.simulate_traffic import progress_reporter
from experiments.models import Click, Experiment, Impression, PageTime
from experiments.selectors import experiment_report
from experiments.simulation import (
    USER_AGENT,
    ClickModel,
    DwellModel,
    Simulator,
    create_experiment,
    parse_page,
    simulate,
)
from experiments.strategies import drawing_from, random_photos
from experiments.visitors import VISITOR_COOKIE, unsigned
from experiments.wsgi_client import WSGIClient
from recommender.services import recluster_if_stale
from recommender.space import StyleSpace
from tests.helpers.images import jpeg_file, styled

# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def site(settings):
    """No forced variant; the events throttle (per visitor id, in the cache) starts empty, as
    the same seeds give the same visitor ids in several tests."""
    settings.STYLEFINDER_AB_VARIANT = ""
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def gallery(ingest, site):
    """12 public photos in two styles, no index yet (the simulator builds it before its first
    page; a test that reads pages itself calls `recluster_if_stale()`)."""
    photos = {"noir": [], "warm": []}
    for i in range(6):
        for style in photos:
            photos[style].append(ingest(jpeg_file(styled(i, style), f"{style}-{i}.jpg")))
    return photos


def snapshot() -> dict:
    """The stored events, comparable across runs (tokens and times differ)."""
    return {
        "impressions": sorted(
            (i.visitor_id, i.variant, i.source_photo_id, json.dumps(i.items))
            for i in Impression.objects.all()
        ),
        "clicks": sorted(
            (c.visitor_id, c.variant, c.target_id, c.position) for c in Click.objects.all()
        ),
        "dwell": sorted(
            (p.visitor_id, p.variant, p.path, p.seconds) for p in PageTime.objects.all()
        ),
    }


# --- the click and dwell models ------------------------------------------------------------------


def test_style_click_probability_rises_with_similarity_and_falls_with_position():
    model = ClickModel(preference="style", base=0.02, slope=0.1, cap=0.08, decay=0.5)
    assert model.probability(-0.7, 1) == model.probability(0.0, 1) == pytest.approx(0.02)
    assert model.probability(0.3, 1) == pytest.approx(0.05)
    assert model.probability(0.9, 1) == pytest.approx(0.08)  # capped
    assert model.probability(0.3, 2) == pytest.approx(0.025)
    assert model.probability(0.3, 3) == pytest.approx(0.0125)


def test_no_preference_is_flat_at_the_style_models_gallery_wide_mean():
    rows = np.array([[1, 0], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)
    space = StyleSpace(np.arange(1, 5), rows, [])
    style = ClickModel(preference="style", base=0.01, slope=0.1)
    flat = ClickModel(preference="none", base=0.01, slope=0.1).with_flat_rate(space)
    sims = rows @ rows.T
    expected = np.mean([style.attraction(sims[i, j]) for i in range(4) for j in range(4) if i != j])
    assert flat.flat == pytest.approx(expected)
    assert flat.probability(-1.0, 1) == flat.probability(1.0, 1) == pytest.approx(expected)
    assert flat.probability(0.5, 3) == pytest.approx(expected * flat.decay**2)


def test_dwell_is_longer_after_a_click():
    rng = random.Random(0)
    model = DwellModel()
    stayed = np.median([model.sample(rng, clicked=True) for _ in range(500)])
    left = np.median([model.sample(rng, clicked=False) for _ in range(500)])
    assert stayed > 2 * left
    assert 8 < left < 18


# --- reading a page ------------------------------------------------------------------------------


def test_parse_page_reads_the_section_token_and_links():
    page = """<html><a href="/photos/9/" data-position="1" data-photo="9">not a rec</a>
    <section id="similar" class="similar" data-variant="style_knn" data-impression="a:b.c&#x27;">
      <ol><li><a class="tile" href="/photos/3/" data-position="1" data-photo="3"><img></a></li>
      <li><a data-photo="5" class="tile" data-position="2" href="/photos/5/"><img></a></li></ol>
    </section><footer><a href="/x" data-position="7" data-photo="7">x</a></footer></html>"""
    info = parse_page(page)
    assert info.variant == "style_knn"
    assert info.token == "a:b.c'"
    assert [(i.photo, i.position, i.href) for i in info.items] == [
        (3, 1, "/photos/3/"),
        (5, 2, "/photos/5/"),
    ]


def test_parse_page_without_a_list():
    info = parse_page('<section id="similar" data-variant="x"><p>Nothing yet</p></section>')
    assert (info.variant, info.token, info.items) == ("x", None, ())
    info = parse_page("<main><p>No section at all (the none variant)</p></main>")
    assert (info.variant, info.token, info.items) == (None, None, ())


# --- the simulator on a small gallery ------------------------------------------------------------


def test_simulated_visitors_record_impressions_clicks_and_time(gallery):
    create_experiment(["style_knn", "random"])
    result = simulate(50, "style", seed=4)

    assert result.rejected == {} and result.page_errors == 0 and result.pages_without_token == 0
    assert set(result.variants) == {"style_knn", "random"}
    assert sum(t.visitors for t in result.variants.values()) == 50
    impressions = list(Impression.objects.all())
    clicks = list(Click.objects.select_related("impression"))
    assert len(impressions) == result.impressions == result.page_views > 50
    assert len(clicks) == result.clicks > 0
    assert PageTime.objects.count() == result.page_views
    assert {i.variant for i in impressions} == {"style_knn", "random"}
    assert all(len(i.items) == 8 for i in impressions)
    for click in clicks:
        impression = click.impression
        assert {"photo": click.target_id, "position": click.position} in [
            {"photo": item["photo"], "position": item["position"]} for item in impression.items
        ]
        assert click.visitor_id == impression.visitor_id  # from the client that got the token
        assert click.variant == impression.variant
    # Every visitor's pages are one visit; clicking visitors saw more than one page.
    clickers = {c.visitor_id for c in clicks}
    for visitor in clickers:
        seen = Impression.objects.filter(visitor_id=visitor)
        assert seen.count() >= 2
        assert seen.values("visit_id").distinct().count() == 1
    # Time on page is longer where the visitor clicked.
    clicked_pages = {(c.visitor_id, c.impression.source_photo_id) for c in clicks}
    longer, shorter = [], []
    for row in PageTime.objects.all():
        photo = int(row.path.strip("/").split("/")[-1])
        (longer if (row.visitor_id, photo) in clicked_pages else shorter).append(row.seconds)
    assert np.median(longer) > np.median(shorter)
    # They click and read at a person's pace (experiments.clock): nothing is screened.
    assert all(c.seconds_to_click >= 2.0 for c in clicks)
    assert not PageTime.objects.filter(implausible=True).exists()
    screened = experiment_report()["screened"]
    assert screened["visitors"] == screened["fast_clickers"] == 0


def test_a_seed_gives_the_same_events(gallery):
    """The same events, the `random` variant's lists included (drawn by the site from the
    generator the simulator passes in), whatever the global `random` does meanwhile."""
    create_experiment(["style_knn", "random"])
    random.seed(1)
    first = simulate(30, "style", seed=11)
    events = snapshot()
    assert any(variant == "random" for _, variant, _, _ in events["impressions"])
    Impression.objects.all().delete()
    PageTime.objects.all().delete()
    random.seed(2)
    second = simulate(30, "style", seed=11)
    assert snapshot() == events
    assert first.as_dict() | {"seconds": 0} == second.as_dict() | {"seconds": 0}
    Impression.objects.all().delete()
    PageTime.objects.all().delete()
    simulate(30, "style", seed=12)
    assert snapshot() != events


def test_the_simulator_never_touches_the_global_random(gallery, monkeypatch):
    create_experiment(["random", "style_knn"])
    random.seed(5)
    state = random.getstate()

    def reseed(*args):
        raise AssertionError("the global random was reseeded")

    monkeypatch.setattr(random, "seed", reseed)
    monkeypatch.setattr(random, "setstate", reseed)
    result = simulate(10, "style", seed=3)
    assert result.variants["random"].impressions > 0
    assert random.getstate() == state


def test_the_random_strategy_draws_from_the_generator_it_is_given(gallery):
    photo = gallery["noir"][0]

    def ids(results):
        return [r.photo.pk for r in results]

    state = random.getstate()
    first = ids(random_photos(photo, 5, random.Random(7)))
    assert first == ids(random_photos(photo, 5, random.Random(7)))
    assert len(set(first)) == 5 and photo.pk not in first
    with drawing_from(random.Random(7)):  # how the simulator's requests get its generator
        assert ids(random_photos(photo, 5)) == first
    # Without one: the system's randomness (11 candidates, 5 drawn: 55,440 ordered lists).
    assert len({tuple(ids(random_photos(photo, 5))) for _ in range(5)}) > 1
    assert random.getstate() == state


def test_the_wsgi_client_keeps_each_visitors_cookies(gallery):
    """The simulator's request path: the real WSGI application, one cookie jar per visitor."""
    recluster_if_stale()
    app = get_internal_wsgi_application()
    url = gallery["noir"][0].get_absolute_url()
    alice = WSGIClient(app, headers={"User-Agent": USER_AGENT})
    bob = WSGIClient(app, headers={"User-Agent": USER_AGENT})

    first = alice.get(url)
    assert first.status == 200 and first.header("Content-Type").startswith("text/html")
    visitor = alice.cookies[VISITOR_COOKIE].value  # issued by the site
    page = parse_page(alice.get(url).text())
    assert alice.cookies[VISITOR_COOKIE].value == visitor
    bob.get(url)
    assert bob.cookies[VISITOR_COOKIE].value != visitor

    impression = {"type": "impression", "token": page.token}
    assert alice.post_json("/api/events/", impression).status == 204
    assert Impression.objects.get().visitor_id == unsigned(visitor)
    assert alice.post_json("/api/events/", {"type": "nonsense"}).status == 400
    # The requests leave the caller's connection (and the test's transaction) alone.
    for signal in (request_started, request_finished):
        assert signal.disconnect(close_old_connections)
        signal.connect(close_old_connections)


def test_the_none_variant_shows_no_list_and_logs_no_impression(gallery):
    create_experiment(["none", "style_knn"])
    result = simulate(40, "style", seed=2)
    none = result.variants["none"]
    assert none.visitors > 5
    assert none.page_views == none.visitors  # nothing to click, so one page each
    assert none.impressions == none.clicks == 0
    assert not Impression.objects.filter(variant="none").exists()
    assert not Click.objects.filter(variant="none").exists()
    assert PageTime.objects.filter(variant="none").count() == none.visitors
    assert result.variants["style_knn"].impressions > 0
    assert result.pages_without_token == 0


def test_style_preference_clicks_style_knn_lists_more_than_random_ones(gallery, settings):
    settings.STYLEFINDER_MAX_SIMILAR = 5  # 5 of 11: style_knn shows only the photo's own style
    create_experiment(["style_knn", "random"])
    model = ClickModel(base=0.0, slope=0.4, cap=0.9, decay=0.9)
    simulator = Simulator(visitors=80, preference="style", seed=5, model=model, max_pages=2)
    result = simulator.run()

    # The lists: style_knn's are of the photo's style, so the visitor's expected CTP is higher.
    def expected_ctp(impression):
        miss = 1.0
        for item in impression.items:
            sim = simulator.similarity(impression.source_photo_id, item["photo"])
            miss *= 1 - model.probability(sim, item["position"])
        return 1 - miss

    expected = {
        variant: np.mean([expected_ctp(i) for i in Impression.objects.filter(variant=variant)])
        for variant in ("style_knn", "random")
    }
    assert expected["style_knn"] > expected["random"] + 0.15
    # ... and the simulated visitors did click them more (a large effect on a small sample).
    knn, rnd = result.variants["style_knn"], result.variants["random"]
    assert knn.impressions > 30 and rnd.impressions > 30
    assert knn.ctp > rnd.ctp + 0.1


def test_no_preference_gives_the_variants_the_same_click_rate(gallery):
    create_experiment(["style_knn", "random"])
    simulator = Simulator(visitors=10, preference="none", seed=1)
    simulator.run()
    assert simulator.model.preference == "none"
    assert 0.01 < simulator.model.flat < 0.1
    for impression in Impression.objects.all():
        for item in impression.items:
            sim = simulator.similarity(impression.source_photo_id, item["photo"])
            assert simulator.model.probability(sim, item["position"]) == pytest.approx(
                simulator.model.flat * simulator.model.decay ** (item["position"] - 1)
            )


def test_visitors_without_a_browser_user_agent_would_be_ignored(gallery, client):
    """Why the simulator sets a User-Agent: the events endpoint ignores clients without one."""
    assert "Mozilla/5.0" in USER_AGENT
    recluster_if_stale()
    photo = gallery["noir"][0]
    page = parse_page(client.get(photo.get_absolute_url()).content.decode())
    assert page.token
    response = client.post(
        "/api/events/", {"type": "impression", "token": page.token}, content_type="application/json"
    )
    assert response.status_code == 204
    assert not Impression.objects.exists()


# --- the command ---------------------------------------------------------------------------------


def test_command_creates_an_experiment_and_prints_a_summary(gallery):
    out = io.StringIO()
    call_command(
        "simulate_traffic",
        visitors=12,
        seed=3,
        create_experiment="style_knn,random",
        quiet=True,
        stdout=out,
        stderr=io.StringIO(),
    )
    text = out.getvalue()
    experiment = Experiment.objects.get(is_active=True)
    assert sorted(experiment.variants.values_list("name", "strategy")) == [
        ("random", "random"),
        ("style_knn", "style_knn"),
    ]
    assert "Simulated 12 visitors (preference style, seed 3)" in text
    assert f"experiment {experiment.pk}" in text
    assert "style_knn" in text and "random" in text and "CTP" in text

    out = io.StringIO()
    call_command(
        "simulate_traffic",
        visitors=5,
        preference="none",
        seed=3,
        experiment=experiment.pk,
        json=True,
        stdout=out,
    )
    report = json.loads(out.getvalue())
    assert report["visitors"] == 5 and report["preference"] == "none"
    assert report["experiment"]["id"] == experiment.pk
    assert report["flat_rate"] > 0
    assert sum(v["visitors"] for v in report["variants"].values()) == 5


def test_command_progress_is_one_line_per_step_off_a_terminal(gallery):
    err = io.StringIO()
    call_command(
        "simulate_traffic",
        visitors=20,
        seed=3,
        create_experiment="style_knn,random",
        stdout=io.StringIO(),
        stderr=err,
    )
    lines = err.getvalue().splitlines()
    assert lines == [f"{n}/20 visitors" for n in range(2, 21, 2)]


def test_command_progress_is_a_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    with progress_reporter(OutputWrapper(terminal), 3) as progress:
        for done in (1, 2, 3):
            progress(done, 3)
    assert "\r" in terminal.getvalue() and "3/3" in terminal.getvalue()
    with progress_reporter(OutputWrapper(terminal), 3, off=True) as progress:
        assert progress is None


def test_command_replaces_the_active_experiment_and_allows_an_a_a_test(gallery):
    old = create_experiment(["style_knn", "random"])
    call_command(
        "simulate_traffic",
        visitors=4,
        create_experiment="random,random",
        quiet=True,
        stdout=io.StringIO(),
    )
    old.refresh_from_db()
    assert not old.is_active
    new = Experiment.objects.get(is_active=True)
    assert list(new.variants.values_list("name", flat=True)) == ["random", "random-2"]


def test_command_rejects_unknown_strategies_and_an_empty_gallery(db):
    with pytest.raises(CommandError, match="Unknown strategies"):
        call_command("simulate_traffic", visitors=1, create_experiment="style_knn,magic")
    with pytest.raises(CommandError, match="no public photos"):
        call_command("simulate_traffic", visitors=1, stdout=io.StringIO())
