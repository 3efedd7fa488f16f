"""A/B experiments on the public site: the visitor's assignment picks the list under a photo and
on "find photos like yours", the page carries a signed impression token, and what the browser
posts back to POST /api/events/ (impressions, clicks, time on page) is validated and stored
(gallery.views, templates/gallery, experiments, api.events)."""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from scipy.stats import chisquare

from experiments import assignment, clock, tokens, visitors
from experiments.formatting import screening_notes
from experiments.models import Click, Experiment, Impression, PageTime, Variant
from experiments.selectors import experiment_report
from photos.models import Photo
from photos.services import set_published
from recommender.services import recluster
from tests.helpers.html import tags
from tests.helpers.images import image_file

pytestmark = pytest.mark.django_db

EVENTS = reverse("api:events")
FIND_SIMILAR = reverse("gallery:find_similar")
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
PHOTOS = 6


# --- helpers ---------------------------------------------------------------------------------


def similar_section(html: str) -> dict[str, str | None] | None:
    """The attributes of section#similar, or None when the page has no such section."""
    return next((a for a in tags(html, "section") if a.get("id") == "similar"), None)


def results_section(html: str) -> dict[str, str | None] | None:
    return next(
        (a for a in tags(html, "section") if "finder__results" in (a.get("class") or "")), None
    )


def shown_items(html: str) -> list[tuple[int, int]]:
    """(photo id, position) of every recommendation link on the page."""
    return [
        (int(a["data-photo"]), int(a["data-position"]))
        for a in tags(html, "a")
        if a.get("data-photo")
    ]


def visitor() -> Client:
    """A new visitor with a browser's user agent (the test client sends none: a bot)."""
    return Client(headers={"user-agent": BROWSER_UA})


def visitor_id_of(client: Client) -> str:
    """The visitor id behind a client's signed visitor cookie."""
    return visitors.unsigned(client.cookies[visitors.VISITOR_COOKIE].value)


def visit_photo(client: Client, photo: Photo) -> tuple[str, dict[str, str | None] | None]:
    response = client.get(photo.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    return html, similar_section(html)


def post_event(client: Client, headers: dict | None = None, **event):
    return client.post(EVENTS, event, content_type="application/json", headers=headers)


@pytest.fixture
def library(ingest) -> list[Photo]:
    """A few READY public photos with precomputed neighbours."""
    photos = [
        ingest(image_file(f"p{i}.jpg", size=(96, 64), seed=i + 1), title=f"Photo {i}")
        for i in range(PHOTOS)
    ]
    assert all(p.status == Photo.Status.READY for p in photos)
    recluster()
    return photos


def make_experiment(*variants: tuple[str, str, float], active: bool = True) -> Experiment:
    experiment = Experiment.objects.create(name="Strip test", is_active=active)
    for name, strategy, weight in variants:
        Variant.objects.create(experiment=experiment, name=name, strategy=strategy, weight=weight)
    return experiment


@pytest.fixture
def experiment() -> Experiment:
    """style_knn against random, 1:1."""
    return make_experiment(("knn", "style_knn", 1.0), ("rnd", "random", 1.0))


@pytest.fixture
def one_experiment_query(monkeypatch):
    """Thousands of assignments against the running experiment, read from the database once
    (`assign` itself is unchanged; only its per-call lookup is cached)."""
    found = {}

    def cached():
        if "experiment" not in found:
            experiment = original()
            if experiment is not None:
                list(experiment.variants.all())
            found["experiment"] = experiment
        return found["experiment"]

    original = assignment.running_experiment
    monkeypatch.setattr(assignment, "running_experiment", cached)
    return found


def visitor_ids(n: int, seed: int) -> list[str]:
    """Synthetic cookie ids, as `visitors.new_id` makes them, reproducibly."""
    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4).hex for _ in range(n)]


# --- assignment ------------------------------------------------------------------------------


def test_a_visitor_keeps_the_same_variant_across_requests(library, experiment):
    seen = set()
    for _ in range(12):
        client = visitor()
        variants = {visit_photo(client, photo)[1]["data-variant"] for photo in library[:4]}
        assert len(variants) == 1, "sticky: one variant per visitor cookie"
        seen |= variants
        # The cookie is what makes it sticky: the same id is assigned the same variant.
        visitor_id = visitors.unsigned(client.cookies[visitors.VISITOR_COOKIE].value)
        assert assignment.assign(visitor_id).variant == variants.pop()
    assert seen == {"knn", "rnd"}, "12 visitors are not all in one half (p = 2^-11)"


def test_the_cookie_is_set_once_and_kept(library, experiment):
    client = visitor()
    first = client.get(library[0].get_absolute_url())
    visitor_id = first.cookies[visitors.VISITOR_COOKIE].value
    assert visitors.unsigned(visitor_id)  # signed by the site
    second = client.get(library[1].get_absolute_url())
    assert visitors.VISITOR_COOKIE not in second.cookies  # not re-issued: unchanged
    assert client.cookies[visitors.VISITOR_COOKIE].value == visitor_id


def test_visitors_split_evenly_between_two_variants(experiment, one_experiment_query):
    ids = visitor_ids(2_000, seed=1)
    counts = Counter(assignment.assign(visitor_id).variant for visitor_id in ids)
    assert set(counts) == {"knn", "rnd"}
    _, p_value = chisquare([counts["knn"], counts["rnd"]])
    assert p_value > 0.001, counts
    # Sticky without storage: the same ids get the same variants again.
    assert Counter(assignment.assign(visitor_id).variant for visitor_id in ids) == counts


def test_assignment_is_uniform_to_the_weights(one_experiment_query):
    make_experiment(("big", "style_knn", 3.0), ("small", "random", 1.0))
    ids = visitor_ids(10_000, seed=2)
    counts = Counter(assignment.assign(visitor_id).variant for visitor_id in ids)
    observed = [counts["big"], counts["small"]]
    _, p_value = chisquare(observed, f_exp=[7_500, 2_500])
    assert p_value > 0.001, counts
    # The hash itself is uniform on [0, 1): ten equal bins.
    experiment_id = Experiment.objects.get().pk
    bins = Counter(int(assignment.bucket(experiment_id, i) * 10) for i in ids)
    assert chisquare([bins[b] for b in range(10)]).pvalue > 0.001, bins


def test_assignment_differs_between_experiments(experiment):
    """A new experiment reshuffles visitors (the hash includes the experiment id)."""
    ids = visitor_ids(400, seed=3)
    first = [assignment.assign(i).variant for i in ids]
    experiment.is_active = False
    experiment.save()
    make_experiment(("knn", "style_knn", 1.0), ("rnd", "random", 1.0))
    second = [assignment.assign(i).variant for i in ids]
    agree = sum(a == b for a, b in zip(first, second, strict=True))
    assert 120 < agree < 280  # about half, as for independent coin flips


def test_without_an_experiment_everyone_gets_style_knn(library):
    make_experiment(("rnd", "random", 1.0), active=False)
    html, section = visit_photo(visitor(), library[0])
    assert section["data-variant"] == "style_knn"
    payload = tokens.read_token(section["data-impression"])
    assert (payload["e"], payload["n"], payload["s"]) == (None, "style_knn", "style_knn")


def test_the_variants_strategy_is_used_not_its_name(library):
    """Variant names are the photographer's labels; the strategy decides the list."""
    make_experiment(("treatment", "random", 1.0))
    html, section = visit_photo(visitor(), library[0])
    assert section["data-variant"] == "treatment"
    payload = tokens.read_token(section["data-impression"])
    assert (payload["n"], payload["s"]) == ("treatment", "random")
    assert len(shown_items(html)) == PHOTOS - 1


@pytest.mark.parametrize("forced", ["random", "style_knn", "popular", "cluster"])
def test_the_environment_variable_forces_a_strategy(library, experiment, settings, forced):
    settings.STYLEFINDER_AB_VARIANT = forced
    for _ in range(4):  # every visitor, whatever the running experiment says
        html, section = visit_photo(visitor(), library[0])
        assert section["data-variant"] == forced
        if section.get("data-impression"):
            payload = tokens.read_token(section["data-impression"])
            assert (payload["e"], payload["n"], payload["s"]) == (None, forced, forced)


def test_forced_style_knn_lists_the_nearest_neighbours(library, settings):
    from recommender.selectors import similar_to_photo

    settings.STYLEFINDER_AB_VARIANT = "style_knn"
    html, _ = visit_photo(visitor(), library[0])
    nearest = [r.photo.pk for r in similar_to_photo(library[0], k=8)]
    assert [pid for pid, _ in shown_items(html)] == nearest


def test_forced_random_shows_random_public_photos(library, settings):
    settings.STYLEFINDER_AB_VARIANT = "random"
    hidden = library[1]
    set_published([hidden], False)
    for _ in range(5):
        html, _ = visit_photo(visitor(), library[0])
        ids = [pid for pid, _ in shown_items(html)]
        assert sorted(ids) == sorted(p.pk for p in library[2:])  # 4 left: all of them
        assert [pos for _, pos in shown_items(html)] == [1, 2, 3, 4]


# --- the `none` variant ----------------------------------------------------------------------


def test_none_renders_no_list_no_section_and_no_token(library, settings):
    settings.STYLEFINDER_AB_VARIANT = "none"
    client = visitor()
    html, section = visit_photo(client, library[0])
    assert section is None, "a `none` visitor sees no similar-style section at all"
    assert "data-impression" not in html
    assert shown_items(html) == []
    assert "Similar style" not in html
    assert "Recommendations will appear here" not in html
    # The upload tool is not a recommendation: the way to it stays.
    assert f'href="{FIND_SIMILAR}"' in html
    assert "Find photos like it" in html
    # Nothing on the page to report, and nothing forged is accepted either.
    assert post_event(client, type="impression", token="").status_code == 400
    assert post_event(client, type="impression", token="x:y:z").status_code == 400
    assert Impression.objects.count() == 0


def test_a_none_variant_of_an_experiment_shows_no_list(library):
    make_experiment(("control", "none", 1.0))
    html, section = visit_photo(visitor(), library[0])
    assert section is None
    assert "data-impression" not in html and shown_items(html) == []


def test_none_on_find_similar_shows_no_list_and_no_token(library, settings):
    settings.STYLEFINDER_AB_VARIANT = "none"
    upload = image_file("mine.jpg", size=(96, 64), seed=99)
    response = visitor().post(FIND_SIMILAR, {"image": upload})
    assert response.status_code == 200
    html = response.content.decode()
    section = results_section(html)
    assert section["data-variant"] == "none"
    assert "data-impression" not in section
    assert shown_items(html) == []
    assert "No suggestions for this photo." in html
    assert "has not been analysed" not in html  # it has; `none` just shows nothing


# --- impression tokens on the page -----------------------------------------------------------


def test_the_token_describes_the_list_as_shown(library, experiment):
    client = visitor()
    html, section = visit_photo(client, library[0])
    payload = tokens.read_token(section["data-impression"])
    assert payload["v"] == visitors.unsigned(client.cookies[visitors.VISITOR_COOKIE].value)
    assert payload["e"] == experiment.pk
    assert payload["n"] == section["data-variant"]
    assert payload["s"] == {"knn": "style_knn", "rnd": "random"}[payload["n"]]
    assert (payload["src"], payload["p"]) == ("photo", library[0].pk)
    assert [(pid, pos) for pid, pos, _ in payload["i"]] == shown_items(html)
    assert all(-1.0 <= score <= 1.0 for _, _, score in payload["i"])


def test_an_empty_list_has_no_token(ingest):
    lone = ingest(image_file("alone.jpg", seed=5))
    html, section = visit_photo(visitor(), lone)
    assert section["data-variant"] == "style_knn"
    assert "data-impression" not in section
    assert "Recommendations will appear here once the photo library has been analysed" in html


def test_a_staff_preview_is_not_part_of_the_experiment(admin_client, library):
    photo = library[0]
    set_published([photo], False)
    html = admin_client.get(photo.get_absolute_url()).content.decode()
    section = similar_section(html)
    assert shown_items(html), "staff still see the list"
    assert "data-impression" not in section


def test_every_page_loads_the_events_script_deferred(client, library):
    for url in (reverse("gallery:index"), library[0].get_absolute_url(), FIND_SIMILAR):
        scripts = tags(client.get(url).content.decode(), "script")
        (events,) = [s for s in scripts if (s.get("src") or "").endswith("gallery/events.js")]
        assert "defer" in events
        assert events["data-endpoint"] == EVENTS


# --- POST /api/events/ -----------------------------------------------------------------------


def test_posting_the_token_stores_one_impression(library, experiment):
    client = visitor()
    html, section = visit_photo(client, library[0])
    token = section["data-impression"]

    assert post_event(client, type="impression", token=token).status_code == 204
    assert post_event(client, type="impression", token=token).status_code == 204  # again

    impression = Impression.objects.get()
    assert impression.visitor_id == visitors.unsigned(client.cookies[visitors.VISITOR_COOKIE].value)
    assert impression.visit_id == client.cookies[visitors.VISIT_COOKIE].value
    assert impression.experiment_id == experiment.pk
    assert impression.variant == section["data-variant"]
    assert impression.source == "photo"
    assert impression.source_photo_id == library[0].pk
    assert [(i["photo"], i["position"]) for i in impression.items] == shown_items(html)


def test_an_impression_as_a_form_post(library):
    client = visitor()
    _, section = visit_photo(client, library[0])
    body = urlencode({"type": "impression", "token": section["data-impression"]})
    response = client.post(EVENTS, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 204
    assert Impression.objects.count() == 1


def test_an_upload_list_is_logged_as_an_upload(library):
    client = visitor()
    upload = image_file("mine.jpg", size=(96, 64), seed=77)
    html = client.post(FIND_SIMILAR, {"image": upload}).content.decode()
    section = results_section(html)
    assert section["data-variant"] == "style_knn"
    response = post_event(client, type="impression", token=section["data-impression"])
    assert response.status_code == 204
    impression = Impression.objects.get()
    assert (impression.source, impression.source_photo_id) == ("upload", None)
    assert [(i["photo"], i["position"]) for i in impression.items] == shown_items(html)


def test_a_click_stores_its_position_and_variant(library, experiment):
    client = visitor()
    html, section = visit_photo(client, library[0])
    token = section["data-impression"]
    photo, position = shown_items(html)[1]

    response = post_event(client, type="click", token=token, photo=photo, position=position)
    assert response.status_code == 204
    click = Click.objects.get()
    assert (click.position, click.target_id) == (2, photo)
    assert click.variant == section["data-variant"]
    assert click.visitor_id == visitors.unsigned(client.cookies[visitors.VISITOR_COOKIE].value)
    # A click implies the list was shown, even if the impression beacon was lost.
    assert click.impression == Impression.objects.get()
    # The same click reported twice is one click.
    post_event(client, type="click", token=token, photo=photo, position=position)
    assert Click.objects.count() == 1


def test_a_click_must_match_the_list(library):
    client = visitor()
    html, section = visit_photo(client, library[0])
    token = section["data-impression"]
    (first, _), (second, _) = shown_items(html)[:2]
    wrong_position = post_event(client, type="click", token=token, photo=first, position=2)
    assert wrong_position.status_code == 400
    assert "position" in wrong_position.json()["detail"]
    not_shown = post_event(client, type="click", token=token, photo=library[0].pk, position=1)
    assert not_shown.status_code == 400
    missing = post_event(client, type="click", token=token, photo=second)
    assert missing.status_code == 400
    assert Click.objects.count() == 0 and Impression.objects.count() == 0


def test_forged_and_other_visitors_tokens_are_rejected(library):
    alice, mallory = visitor(), visitor()
    html, section = visit_photo(alice, library[0])
    visit_photo(mallory, library[0])
    token = section["data-impression"]

    stolen = post_event(mallory, type="impression", token=token)
    assert stolen.status_code == 400
    assert "another visitor" in stolen.json()["detail"]

    # A token re-signed by anyone without the secret key: change the payload, keep the signature.
    body, signature = token.rsplit(":", 1)
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + ":" + signature
    forged = post_event(alice, type="impression", token=tampered)
    assert forged.status_code == 400
    assert "not valid" in forged.json()["detail"]

    # Signed with another salt (e.g. another part of the site's signing) is not a token either.
    from django.core import signing

    other = signing.dumps(tokens.read_token(token), salt="something.else", compress=True)
    assert post_event(alice, type="impression", token=other).status_code == 400
    photo, position = shown_items(html)[0]
    click = post_event(mallory, type="click", token=token, photo=photo, position=position)
    assert click.status_code == 400
    assert Impression.objects.count() == 0 and Click.objects.count() == 0


def test_bots_are_ignored(library):
    real = visitor()
    html, section = visit_photo(real, library[0])
    token = section["data-impression"]
    photo, position = shown_items(html)[0]
    for agent in ("Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.5.0", ""):
        events = [  # same cookies, a bot's user agent
            {"type": "impression", "token": token},
            {"type": "click", "token": token, "photo": photo, "position": position},
            {"type": "dwell", "page_view": str(uuid.uuid4()), "path": "/", "seconds": 5},
        ]
        for event in events:
            response = post_event(real, headers={"user-agent": agent}, **event)
            assert response.status_code == 204
    assert Impression.objects.count() == Click.objects.count() == PageTime.objects.count() == 0


def page_view_of(html: str) -> str:
    """The signed page view token the page hands events.js."""
    return re.search(r'data-page-view="([^"]+)"', html).group(1)


def test_dwell_keeps_the_longest_time_of_a_page_view(library, experiment):
    client = visitor()
    html, _ = visit_photo(client, library[0])
    view = page_view_of(html)
    path = library[0].get_absolute_url()
    for seconds in (3.5, 12.25, 7):
        event = {"type": "dwell", "page_view": view, "path": path, "seconds": seconds}
        with clock.advanced(20):  # the beacons come as the visitor reads
            assert post_event(client, **event).status_code == 204
    row = PageTime.objects.get()
    assert row.seconds == 12.25
    assert row.path == path
    assert row.experiment_id == experiment.pk
    assert row.variant == assignment.assign(row.visitor_id).variant
    # Another page view is another row; nonsense is refused.
    html, _ = visit_photo(client, library[1])
    post_event(client, type="dwell", page_view=page_view_of(html), path=path, seconds=1)
    assert PageTime.objects.count() == 2
    for made_up in ("not-a-token", str(uuid.uuid4())):
        bad = post_event(client, type="dwell", page_view=made_up, path=path, seconds=1)
        assert bad.status_code == 400
    negative = post_event(client, type="dwell", page_view=view, path=path, seconds=-1)
    assert negative.status_code == 400
    assert PageTime.objects.filter(seconds=12.25).count() == 1


def test_dwell_is_capped_and_bound_to_its_visitor(library, experiment):
    """Two hours on one page is a tab left open, not attention: 30 minutes count. A page view
    is its visitor's alone."""
    client = visitor()
    html, _ = visit_photo(client, library[0])
    view = page_view_of(html)
    event = {"type": "dwell", "page_view": view, "path": "/", "seconds": 7200}
    with clock.advanced(7300):
        assert post_event(client, **event).status_code == 204
    row = PageTime.objects.get()
    assert row.seconds == 30 * 60 and not row.implausible
    stranger = post_event(visitor(), **{**event, "seconds": 5})
    assert stranger.status_code == 400
    assert "another visitor" in stranger.json()["detail"]


def test_a_page_cannot_have_been_watched_longer_than_it_exists(library, experiment, admin_client):
    """Issue #13: `seconds: 1e9` right after the page came was accepted and counted 30 minutes.
    Now the time is cut to the page view's age and the row is marked: the report leaves the
    visitor out and says so."""
    client = visitor()
    html, _ = visit_photo(client, library[0])
    event = {"type": "dwell", "page_view": page_view_of(html), "path": "/", "seconds": 1e9}
    assert post_event(client, **event).status_code == 204
    row = PageTime.objects.get()
    assert row.implausible and row.seconds < 5
    # Within what the page has existed (and a little clock slack) is believed.
    honest = visitor()
    html, _ = visit_photo(honest, library[1])
    event = {"type": "dwell", "page_view": page_view_of(html), "path": "/", "seconds": 40}
    with clock.advanced(38):
        assert post_event(honest, **event).status_code == 204
    believed = PageTime.objects.get(visitor_id=visitor_id_of(honest))
    assert believed.seconds == 40 and not believed.implausible

    report = experiment_report(experiment)
    times = reverse("admin:experiments_pagetime_changelist")
    marked = admin_client.get(times, {"implausible__exact": "1"}).context["cl"].result_list
    assert [t.pk for t in marked] == [row.pk]
    assert report["screened"]["implausible_dwellers"] == 1
    assert report["screened"]["page_times"] == 1
    assert sum(v["timed_visits"] for v in report["variants"]) == 1


def test_clicks_faster_than_a_person_are_screened(library, experiment, admin_client):
    """Issue #13: a script posts the impression and the click the moment it has the page; a
    person needs longer than `STYLEFINDER_AB_MIN_CLICK_MS` (500 ms) to see a list and click.
    Every event of such a visitor is left out of the report, and the report says so."""
    script, person = visitor(), visitor()
    for client, pace in ((script, 0.05), (person, 1.5)):
        html, section = visit_photo(client, library[0])
        token = section["data-impression"]
        photo, position = shown_items(html)[0]
        assert post_event(client, type="impression", token=token).status_code == 204
        with clock.advanced(pace):
            click = {"type": "click", "token": token, "photo": photo, "position": position}
            assert post_event(client, **click).status_code == 204
    fast = Click.objects.get(visitor_id=visitor_id_of(script))
    slow = Click.objects.get(visitor_id=visitor_id_of(person))
    assert fast.seconds_to_click < 0.5 <= slow.seconds_to_click < 3

    report = experiment_report(experiment)
    screened = report["screened"]
    assert (screened["fast_clickers"], screened["visitors"]) == (1, 1)
    assert (screened["impressions"], screened["clicks"]) == (1, 1)
    assert sum(v["impressions"] for v in report["variants"]) == 1
    assert sum(v["clicks"] for v in report["variants"]) == 1
    notes = " ".join(note["text"] for note in screening_notes(report))
    assert "1 visitor who clicked a list less than 0.5 s after it was shown" in notes
    # The admin's click list tells them apart.
    clicks = reverse("admin:experiments_click_changelist")
    fast_list = admin_client.get(clicks, {"pace": "fast"}).context["cl"].result_list
    assert [c.pk for c in fast_list] == [fast.pk]
    person_list = admin_client.get(clicks, {"pace": "person"}).context["cl"].result_list
    assert [c.pk for c in person_list] == [slow.pk]


def test_events_without_a_visit_are_one_visit_per_half_hour(library, experiment):
    """A client that keeps no cookies is not a new visit per event."""
    first = visitor()
    html, section = visit_photo(first, library[0])
    token = section["data-impression"]
    fresh = Client(headers={"user-agent": BROWSER_UA})  # no cookies at all
    visitor_id = first.cookies["sf_vid"].value
    for _ in range(2):
        event = {"type": "impression", "token": token, "visitor": visitor_id}
        assert post_event(fresh, **event).status_code == 204
        fresh.cookies.clear()  # it keeps none of the cookies it is sent
    photo, position = shown_items(html)[0]
    click = {"type": "click", "token": token, "photo": photo, "position": position}
    assert post_event(fresh, **click, visitor=visitor_id).status_code == 204
    visits = {Impression.objects.get().visit_id, Click.objects.get().visit_id}
    assert len(visits) == 1 and "" not in visits


def test_events_are_rate_limited_per_address_whatever_the_cookie(library, settings):
    settings.STYLEFINDER_EVENTS_RATE = "3/min"
    client = visitor()
    _, section = visit_photo(client, library[0])
    event = {"type": "impression", "token": section["data-impression"]}
    assert [post_event(client, **event).status_code for _ in range(3)] == [204, 204, 204]
    # A fresh visitor cookie (the client chooses its cookies) is no new allowance ...
    fresh = visitor()
    _, section = visit_photo(fresh, library[0])
    token = section["data-impression"]
    assert post_event(fresh, type="impression", token=token).status_code == 429
    forged = post_event(
        fresh, headers={"x-forwarded-for": "192.0.2.9"}, type="impression", token=token
    )
    assert forged.status_code == 429  # ... and neither is a forged X-Forwarded-For
    # Another address has one of its own.
    elsewhere = fresh.post(
        EVENTS,
        {"type": "impression", "token": token},
        content_type="application/json",
        REMOTE_ADDR="10.1.2.3",
    )
    assert elsewhere.status_code == 204


def test_unknown_event_types_are_refused(library):
    response = post_event(visitor(), type="purchase", token="x")
    assert response.status_code == 400


# --- cost ------------------------------------------------------------------------------------


# The photo page's own queries (photo + renditions + previous + next + gallery position), the
# running experiment and its variants (2), then the strategy's list: style_knn reads the
# precomputed neighbours (settings + active run + neighbours), random and popular read ids and
# then the photos with their thumbnails, cluster its album's members too. `none` reads nothing.
# Making the impression token costs no query.
# +1 each with a strip: the "Same scene" strip reads the active run again
PAGE_QUERIES = {"style_knn": 11, "random": 11, "popular": 11, "cluster": 13, "none": 7}


@pytest.mark.parametrize("strategy", sorted(PAGE_QUERIES))
def test_photo_page_query_count_with_a_running_experiment(
    library, django_assert_max_num_queries, strategy
):
    make_experiment(("only", strategy, 1.0))
    client = visitor()
    client.get(library[0].get_absolute_url())
    for photo in library[1:3]:
        with django_assert_max_num_queries(PAGE_QUERIES[strategy]):
            html, section = visit_photo(client, photo)
        assert bool(section and section.get("data-impression")) == (strategy != "none")


def test_events_cost_a_few_queries(library, django_assert_max_num_queries):
    client = visitor()
    html, section = visit_photo(client, library[0])
    token = section["data-impression"]
    photo, position = shown_items(html)[1]
    # Source photo exists? + get_or_create (a select, then an insert in a savepoint: 3).
    with django_assert_max_num_queries(5):
        post_event(client, type="impression", token=token)
    with django_assert_max_num_queries(8):  # the impression (5) + the click in a savepoint (3)
        post_event(client, type="click", token=token, photo=photo, position=position)
    event = {"type": "dwell", "page_view": str(uuid.uuid4()), "path": "/", "seconds": 2}
    with django_assert_max_num_queries(6):  # the running experiment (2) + get_or_create (4)
        post_event(client, **event)
