"""GET/POST /api/widget/ (the embeddable widget's endpoint), the widget's events (explicit
visitor ids, text/plain bodies) and CORS for the sites allowed to embed the widget."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

import pytest
from django.test import Client

from experiments import assignment, clock, tokens, visitors
from experiments.models import Click, Experiment, Impression, PageTime, Variant
from photos.models import Photo
from tests.helpers.images import gradient_image, image_bytes, image_file

WIDGET = "/api/widget/"
EVENTS = "/api/events/"
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"}
ALLOWED = "http://photographer.example"
FOREIGN = "http://elsewhere.example"
VISITOR_ID = "0123456789abcdef0123456789abcdef"
VISITOR = visitors.signed(VISITOR_ID)  # as the gallery issued it
VISIT = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def photos(ingest, settle) -> list[Photo]:
    made = []
    for i in range(8):
        buffer = io.BytesIO()
        gradient_image((120, 80), seed=i + 1).save(buffer, "JPEG", quality=90)
        buffer.seek(0)
        buffer.name = f"w{i}.jpg"
        made.append(ingest(buffer, title=f"Widget {i}"))
    assert all(p.status == Photo.Status.READY for p in made)
    settle()
    return made


@pytest.fixture
def experiment(db) -> Experiment:
    experiment = Experiment.objects.create(name="Widget", is_active=True)
    Variant.objects.create(experiment=experiment, name="knn", strategy="style_knn", weight=1)
    Variant.objects.create(experiment=experiment, name="rnd", strategy="random", weight=1)
    return experiment


def field_errors(response) -> dict:
    """A 400's messages per field (inside `errors` in the API's error body)."""
    body = response.json()
    return body.get("errors", body)


def widget(client: Client, **params):
    return client.get(WIDGET, params, **BROWSER)


def post_text(client: Client, event: dict, **extra):
    """An event as the widget sends it: JSON in a text/plain body (no CORS preflight)."""
    return client.post(
        EVENTS, json.dumps(event), content_type="text/plain;charset=UTF-8", **BROWSER, **extra
    )


def visitors_with_variants(names: set[str]) -> dict[str, str]:
    """A signed visitor id for each variant name (assignment is a hash: search a few ids)."""
    found: dict[str, str] = {}
    for i in range(200):
        visitor = f"{i:032x}"
        found.setdefault(assignment.assign(visitor).variant, visitors.signed(visitor))
        if names <= set(found):
            return found
    raise AssertionError(f"no visitors for {names}")


# --- GET ?photo= ---------------------------------------------------------------------------------


def test_widget_has_the_documented_shape(client, photos):
    source = photos[0]
    response = widget(client, photo=source.pk, count=4, visitor=VISITOR)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"photo", "variant", "visitor", "items", "impression", "ref"}
    assert body["photo"] == {
        "id": source.pk,
        "title": "Widget 0",
        "page_url": f"http://testserver/photos/{source.pk}/",
    }
    assert body["variant"] == "style_knn"
    assert body["visitor"] == VISITOR
    assert body["ref"] is None
    items = body["items"]
    assert len(items) == 4
    assert [item["position"] for item in items] == [1, 2, 3, 4]
    for item in items:
        assert set(item) == {
            "id",
            "title",
            "thumbnail_url",
            "page_url",
            "width",
            "height",
            "position",
            "score",
        }
        assert item["id"] != source.pk
        assert item["thumbnail_url"].startswith("http://testserver/media/renditions/")
        assert item["page_url"] == f"http://testserver/photos/{item['id']}/"
        assert (item["width"], item["height"]) == (120, 80)  # smaller than a thumbnail: as is
        assert item["title"].startswith("Widget ")
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)

    # The token describes the list as shown, for this widget visitor, from the widget.
    token = tokens.read_token(body["impression"])
    assert token["v"] == VISITOR_ID
    assert (token["src"], token["p"], token["n"]) == ("widget", source.pk, "style_knn")
    assert [[i, pos] for i, pos, _ in token["i"]] == [[it["id"], it["position"]] for it in items]


def test_thumbnail_size_fits_the_thumbnail_square(ingest, settle):
    big = [ingest(image_file(f"b{s}.jpg", size=(900, 600), seed=s)) for s in (1, 2)]
    settle()
    body = widget(Client(), photo=big[0].pk, visitor=VISITOR).json()
    assert [(i["width"], i["height"]) for i in body["items"]] == [(400, 267)]


def test_count_defaults_to_six_and_is_capped_by_the_gallery(client, photos):
    assert len(widget(client, photo=photos[1].pk).json()["items"]) == 6
    assert len(widget(client, photo=photos[1].pk, count=24).json()["items"]) == 7


@pytest.mark.parametrize("count", ["0", "-1", "25", "many", "2.5"])
def test_count_out_of_bounds_is_a_400(client, photos, count):
    response = widget(client, photo=photos[0].pk, count=count)
    assert response.status_code == 400
    assert "count" in field_errors(response)


@pytest.mark.parametrize(
    "params",
    [
        {"photo": "abc"},
        {"photo": "0"},
        {"photo": "1", "visitor": "NOT-HEX"},
        {"photo": "1", "visitor": "ABCDEF0123456789ABCDEF0123456789"},  # upper case
        {"image_url": ""},
    ],
)
def test_bad_parameters_are_a_400_with_a_message(client, photos, params):
    response = widget(client, **params)
    assert response.status_code == 400
    assert field_errors(response)


@pytest.mark.parametrize(
    "params",
    [
        {},  # nothing named
        {"ref": "forged"},
        {"image_url": "ftp://testserver/media/renditions/1-thumb.webp"},
        {"image_url": "renditions/1-thumb.webp"},
        {"image_url": "http://[broken/media/renditions/1-thumb.webp"},
    ],
)
def test_nothing_found_is_a_404(client, photos, params):
    response = widget(client, **params)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_photo_wins_over_image_url_and_ref(client, photos):
    body = widget(client, photo=photos[1].pk, image_url="x", ref="y", visitor="").json()
    assert body["photo"]["id"] == photos[1].pk
    assert visitors.unsigned(body["visitor"])  # an empty visitor is no visitor: a new one


def test_unknown_or_hidden_photo_is_a_404_in_json(client, photos):
    missing = widget(client, photo=999999, visitor=VISITOR)
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert missing.json()
    Photo.objects.filter(pk=photos[2].pk).update(published=False)
    assert widget(client, photo=photos[2].pk).status_code == 404
    # A hidden photo is never among the items either.
    body = widget(client, photo=photos[0].pk, count=24).json()
    assert photos[2].pk not in [item["id"] for item in body["items"]]


def test_without_a_visitor_a_new_id_is_made_and_returned(client, photos):
    body = widget(client, photo=photos[0].pk).json()
    issued = visitors.unsigned(body["visitor"])
    assert issued and tokens.read_token(body["impression"])["v"] == issued


def test_assignment_follows_the_explicit_visitor_and_is_sticky(photos, experiment):
    ids = visitors_with_variants({"knn", "rnd"})
    client = Client()  # one browser (one cookie) for both widget visitors: the cookie is ignored
    for name, visitor in ids.items():
        variants = {widget(client, photo=photos[0].pk, visitor=visitor).json()["variant"]}
        variants |= {widget(Client(), photo=photos[3].pk, visitor=visitor).json()["variant"]}
        assert variants == {name}
        token = tokens.read_token(
            widget(client, photo=photos[0].pk, visitor=visitor).json()["impression"]
        )
        assert (token["e"], token["n"]) == (experiment.pk, name)


def test_the_none_variant_shows_nothing_and_logs_nothing(client, photos, settings):
    settings.STYLEFINDER_AB_VARIANT = "none"
    body = widget(client, photo=photos[0].pk, visitor=VISITOR).json()
    assert (body["variant"], body["items"], body["impression"]) == ("none", [], "")


# --- GET ?image_url= -----------------------------------------------------------------------------


def test_an_image_url_of_this_gallery_resolves_to_its_photo(client, photos):
    photo = photos[4]
    for spec in ("thumb", "display"):
        url = "http://testserver" + photo.rendition_url(spec)
        body = widget(client, image_url=url, count=3, visitor=VISITOR).json()
        assert body["photo"]["id"] == photo.pk
        assert len(body["items"]) == 3
        assert photo.pk not in [item["id"] for item in body["items"]]
    original = widget(client, image_url="http://testserver" + photo.original.url).json()
    assert original["photo"]["id"] == photo.pk


def test_an_image_url_elsewhere_is_a_404_and_never_fetched(client, photos):
    path = photos[4].rendition_url("thumb")
    for url in (
        "http://my-site.example" + path,  # same file name on another host: not ours
        "http://testserver/media/renditions/unknown.webp",
        "http://testserver/photos/1/",
        "http://169.254.169.254/latest/meta-data/",
    ):
        response = widget(client, image_url=url, visitor=VISITOR)
        assert response.status_code == 404, url
    Photo.objects.filter(pk=photos[4].pk).update(published=False)
    assert widget(client, image_url="http://testserver" + path).status_code == 404


# --- POST (an image of the embedding site) and ?ref= ---------------------------------------------


def upload(client: Client, data: bytes, **fields):
    file = io.BytesIO(data)
    file.name = "image"
    return client.post(WIDGET, {"image": file, **fields}, **BROWSER)


def test_an_uploaded_image_gets_a_list_and_a_ref_for_reloads(client, photos):
    buffer = io.BytesIO()
    gradient_image((160, 100), seed=3).convert("L").save(buffer, "PNG")
    response = upload(client, buffer.getvalue(), count="3", visitor=VISITOR)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["photo"] is None
    assert len(body["items"]) == 3
    assert body["ref"]
    token = tokens.read_token(body["impression"])
    assert (token["v"], token["src"], token["p"]) == (VISITOR_ID, "widget", None)

    # A reload asks again with the ref: the same list, a fresh token, no upload.
    again = widget(client, ref=body["ref"], count=3, visitor=VISITOR).json()
    assert [i["id"] for i in again["items"]] == [i["id"] for i in body["items"]]
    assert again["impression"] and again["impression"] != body["impression"]
    assert tokens.read_token(again["impression"])["t"] != token["t"]
    assert len(widget(client, ref=body["ref"], count=2).json()["items"]) == 2
    tampered = body["ref"][:-3] + ("AAA" if not body["ref"].endswith("AAA") else "BBB")
    assert widget(client, ref=tampered).status_code == 404


def test_a_bad_upload_is_a_400_for_the_image(client, photos):
    for data in (b"", b"<html>not an image</html>"):
        response = upload(client, data, visitor=VISITOR)
        assert response.status_code == 400
        assert "image" in field_errors(response)
    assert client.post(WIDGET, {"count": "3"}, **BROWSER).status_code == 400


def test_uploads_have_the_strict_anonymous_throttle(client, photos, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "similar_upload": "2/min"},
    }
    data = image_bytes(size=(80, 60), seed=9)
    codes = [upload(client, data, visitor=VISITOR).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert widget(client, photo=photos[0].pk).status_code == 200  # reading is not that strict


# --- Events with the widget's own ids ------------------------------------------------------------


def test_widget_events_use_the_explicit_visitor_and_visit(photos, experiment):
    visitor = visitors_with_variants({"rnd"})["rnd"]
    body = widget(Client(), photo=photos[0].pk, count=3, visitor=visitor).json()
    token = body["impression"]
    client = Client()  # the events come without the widget's visitor in any cookie
    impression = {"type": "impression", "token": token, "visitor": visitor, "visit": VISIT}
    assert post_text(client, impression).status_code == 204
    row = Impression.objects.get()
    assert (row.visitor_id, row.visit_id, row.variant) == (visitors.unsigned(visitor), VISIT, "rnd")
    assert (row.source, row.source_photo_id, row.experiment_id) == (
        "widget",
        photos[0].pk,
        experiment.pk,
    )
    assert [i["photo"] for i in row.items] == [i["id"] for i in body["items"]]

    second = body["items"][1]
    click = {
        "type": "click",
        "token": token,
        "photo": second["id"],
        "position": 2,
        "visitor": visitor,
        "visit": VISIT,
    }
    assert post_text(client, click).status_code == 204
    saved = Click.objects.get()
    assert (saved.target_id, saved.position, saved.variant) == (second["id"], 2, "rnd")
    assert (saved.visitor_id, saved.visit_id, saved.impression_id) == (
        visitors.unsigned(visitor),
        VISIT,
        row.pk,
    )

    # Time on page needs a page view this gallery issued: a made-up one is refused.
    dwell = {
        "type": "dwell",
        "page_view": "6f1c1a3e-8d1b-4c3e-9a51-0a4f3d2b1c0e",
        "path": "/somewhere",
        "seconds": 4,
        "visitor": visitor,
    }
    refused = post_text(client, dwell)
    assert refused.status_code == 400 and "page view token" in refused.json()["detail"]
    assert not PageTime.objects.exists()


def test_a_token_cannot_be_reported_by_another_visitor(client, photos):
    token = widget(client, photo=photos[0].pk, visitor=VISITOR).json()["impression"]
    other = visitors.signed("f" * 32)
    response = post_text(client, {"type": "impression", "token": token, "visitor": other})
    assert response.status_code == 400
    assert "another visitor" in response.json()["detail"]
    # Nor by the site's cookie visitor (no explicit id): the token is the widget visitor's.
    response = client.post(
        EVENTS, {"type": "impression", "token": token}, content_type="application/json", **BROWSER
    )
    assert response.status_code == 400
    assert Impression.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    ["not json", "[1, 2]", json.dumps({"type": "impression", "token": "x", "visitor": "XYZ"})],
)
def test_bad_text_plain_events_are_a_400(client, photos, body):
    response = client.post(EVENTS, body, content_type="text/plain", **BROWSER)
    assert response.status_code == 400


def test_events_without_a_cookie_are_throttled_per_address(client, photos, settings):
    settings.STYLEFINDER_EVENTS_RATE = "3/min"
    codes = []
    for _ in range(4):
        token = widget(Client(), photo=photos[0].pk, visitor=VISITOR).json()["impression"]
        # A fresh client each time: no cookie, so no id of its own to hide behind.
        codes.append(
            post_text(
                Client(), {"type": "impression", "token": token, "visitor": VISITOR}
            ).status_code
        )
    assert codes == [204, 204, 204, 429]


# --- CORS ----------------------------------------------------------------------------------------


@pytest.fixture
def allowed_origin(settings):
    settings.STYLEFINDER_WIDGET_ORIGINS = [ALLOWED]
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]
    return ALLOWED


def test_an_allowed_origin_may_read_the_widget_api(client, photos, allowed_origin):
    response = client.get(WIDGET, {"photo": photos[0].pk}, HTTP_ORIGIN=allowed_origin, **BROWSER)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == allowed_origin
    assert "Access-Control-Allow-Credentials" not in response  # no cookies cross sites

    preflight = client.options(
        WIDGET,
        HTTP_ORIGIN=allowed_origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == allowed_origin
    assert "POST" in preflight["Access-Control-Allow-Methods"]

    token = response.json()["impression"]
    event = post_text(
        client,
        {"type": "impression", "token": token, "visitor": response.json()["visitor"]},
        HTTP_ORIGIN=allowed_origin,
    )
    assert event.status_code == 204
    assert event["Access-Control-Allow-Origin"] == allowed_origin


def test_a_foreign_origin_gets_no_cors_headers(client, photos, allowed_origin):
    response = client.get(WIDGET, {"photo": photos[0].pk}, HTTP_ORIGIN=FOREIGN, **BROWSER)
    assert "Access-Control-Allow-Origin" not in response
    preflight = client.options(
        WIDGET, HTTP_ORIGIN=FOREIGN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in preflight
    # The public site itself is not opened to other origins.
    page = client.get(photos[0].get_absolute_url(), HTTP_ORIGIN=allowed_origin)
    assert "Access-Control-Allow-Origin" not in page


def test_no_origin_is_allowed_by_default(client, photos):
    response = client.get(WIDGET, {"photo": photos[0].pk}, HTTP_ORIGIN=ALLOWED, **BROWSER)
    assert "Access-Control-Allow-Origin" not in response


# --- Schema --------------------------------------------------------------------------------------


def test_schema_documents_the_widget_and_events_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    get = schema["paths"]["/api/widget/"]["get"]
    names = {p["name"] for p in get["parameters"]}
    assert names == {"photo", "image_url", "ref", "count", "visitor", "mode"}
    assert set(get["responses"]) == {"200", "400", "404", "429"}
    post = schema["paths"]["/api/widget/"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert set(post["responses"]) == {"200", "400", "415", "429"}
    events = schema["paths"]["/api/events/"]["post"]
    assert set(events["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }
    assert set(events["responses"]) == {"204", "400", "415", "429"}


def test_quoted_image_urls_resolve(client, photos):
    url = "http://testserver" + quote(photos[5].rendition_url("thumb"))
    assert widget(client, image_url=url).json()["photo"]["id"] == photos[5].pk


def test_a_widget_mode_list_carries_no_impression_token(client, photos):
    photo = photos[0]
    body = client.get(f"/api/widget/?photo={photo.pk}&count=3&mode=look").json()
    assert len(body["items"]) == 3
    assert photo.pk not in [item["id"] for item in body["items"]]
    assert body["impression"] == ""  # not the experiment's list: nothing to log against it
    default = client.get(f"/api/widget/?photo={photo.pk}&count=3").json()
    assert default["impression"]


# --- Forged A/B traffic -------------------------------------------------------------------------


def genuine_widget_traffic(photos) -> None:
    """Real visitors of the widget, 40 in each variant as the weights say (the first 40 ids of
    each), one address each, who click alike in both variants (every third visitor of each),
    at a person's pace."""
    seen = {"knn": 0, "rnd": 0}
    number = 0
    while min(seen.values()) < 40:
        number += 1
        visitor = f"{number:032x}"
        variant = assignment.assign(visitor).variant
        if seen[variant] == 40:
            continue
        address = f"198.51.100.{sum(seen.values()) + 1}"
        widget_visit(photos, visitors.signed(visitor), address, click=seen[variant] % 3 == 0)
        seen[variant] += 1


def widget_visit(photos, visitor: str, address: str, click: bool, pace: float = 1.5) -> None:
    """What the widget script does for one visitor: fetch a list, report it shown, and maybe
    click its first item `pace` seconds after the list came."""
    client = Client(REMOTE_ADDR=address)
    body = widget(client, photo=photos[0].pk, visitor=visitor).json()
    event = {"type": "impression", "token": body["impression"], "visitor": visitor}
    assert post_text(client, event).status_code == 204
    if click:
        item = body["items"][0]
        event = {**event, "type": "click", "photo": item["id"], "position": item["position"]}
        with clock.advanced(pace):
            assert post_text(client, event).status_code == 204


def collect_visitor_ids(photos, variant: str, count: int, address: str) -> list[str]:
    """The attack with signed ids: ask for fresh ones, keep those that land in `variant`."""
    kept: list[str] = []
    while len(kept) < count:
        body = widget(Client(REMOTE_ADDR=address), photo=photos[0].pk).json()
        if body["variant"] == variant:
            kept.append(body["visitor"])
    return kept


def test_a_replayed_forgery_does_not_make_its_variant_win(photos, experiment):
    """The attack of issue #13: visitor ids chosen to land in one variant, each fetching a list
    and reporting an impression and a click, all from one machine. Real visitors, one address
    each, click alike in both variants. The report leaves the forged traffic out, says so, and
    no variant wins."""
    from experiments.report import build_report
    from experiments.selectors import experiment_report, load_events

    genuine_widget_traffic(photos)
    # Chosen ids are refused now: the gallery signs the ids it issues ...
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    chosen = widget(attacker, photo=photos[0].pk, visitor=f"{1000:032x}")
    assert chosen.status_code == 400 and "issued" in field_errors(chosen)["visitor"][0]
    # ... so the attacker asks for fresh ones and keeps those that land in "rnd".
    for visitor in collect_visitor_ids(photos, "rnd", 40, "203.0.113.66"):
        widget_visit(photos, visitor, "203.0.113.66", click=True)

    report = experiment_report(experiment)
    assert report["screened"]["addresses"] == 1
    assert report["screened"]["visitors"] == 40
    assert report["screened"]["impressions"] == report["screened"]["clicks"] == 40
    rows = {row["name"]: row for row in report["variants"]}
    assert rows["knn"]["impressions"] + rows["rnd"]["impressions"] == 80
    (comparison,) = report["comparisons"]
    assert comparison["p_value"] > 0.05  # no winner
    # Without the screening the forgery wins: the test would catch a screening that does not act.
    unscreened = build_report(load_events(experiment), None)["comparisons"][0]
    assert unscreened["p_value"] < 0.01 and unscreened["difference"] > 0.25


@pytest.fixture
def still_clock(monkeypatch):
    """The events' clock stands still but for `clock.advanced`: a click comes exactly `pace`
    seconds after its list, however long the test machine takes to serve the requests between
    (on a busy machine a 0.05 s script once measured over the 0.5 s a person needs)."""
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start + clock._offset.get())


def test_a_forgery_spread_over_many_addresses_does_not_win_either(photos, experiment, still_clock):
    """The same attack from 40 addresses, one visitor id each, so that no address is behind
    many: a script still clicks the moment it has the list, faster than a person, and the
    report leaves those visitors out. One that waits like a person before each click is still
    seen: the visitors no longer split as the weights say, and the report warns."""
    from experiments.formatting import screening_notes
    from experiments.selectors import experiment_report

    genuine_widget_traffic(photos)
    forged = []
    for i in range(40):
        address = f"203.0.{113 + i // 200}.{i % 200 + 1}"
        (visitor,) = collect_visitor_ids(photos, "rnd", 1, address)
        widget_visit(photos, visitor, address, click=True, pace=0.05)
        forged.append(visitors.unsigned(visitor))

    report = experiment_report(experiment)
    screened = report["screened"]
    assert screened["addresses"] == 0  # one visitor id per address: that rule sees nothing
    assert screened["fast_clickers"] == screened["visitors"] == 40
    assert screened["impressions"] == screened["clicks"] == 40
    (comparison,) = report["comparisons"]
    assert comparison["p_value"] > 0.05
    assert report["sample_ratio"]["mismatch"] is False

    # The patient forger: the same clicks, each as if it came 3 s after its list.
    Click.objects.filter(visitor_id__in=forged).update(seconds_to_click=3.0)
    patient = experiment_report(experiment)
    assert patient["screened"]["visitors"] == 0
    # It moves the comparison (no screening can tell it from people) ...
    assert patient["comparisons"][0]["p_value"] < 0.01
    # ... but not unseen: 40 visitors too many in the variant it steers.
    ratio = patient["sample_ratio"]
    assert ratio["visitors"]["rnd"] == ratio["visitors"]["knn"] + 40
    assert ratio["mismatch"] is True and ratio["p_value"] < 0.001
    warning = [note for note in screening_notes(patient) if note["warning"]]
    assert warning and "did not split as the weights say" in warning[0]["text"]
