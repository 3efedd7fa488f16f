"""GET /api/photos/{id}/similar/ and POST /api/similar/: shapes, variants, errors."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from photos.models import Photo
from recommender.models import RecommenderSettings
from tests.helpers.images import image_bytes, jpeg_file, styled


def scene(seed: int, style: str) -> Image.Image:
    """Smaller than the gallery tests' scenes, each rolled sideways by its own seed."""
    return styled(seed, style, (200, 140), shift=seed * 37)


def jpeg_upload(image: Image.Image, name: str = "query.jpg") -> io.BytesIO:
    return jpeg_file(image, name, quality=90)


@pytest.fixture
def gallery(ingest, settle):
    photos = {
        style: [ingest(jpeg_upload(scene(i, style), f"{style}{i}.jpg")) for i in range(5)]
        for style in ("noir", "warm")
    }
    settle()
    return photos


def test_similar_has_the_documented_shape(client, gallery):
    photo = gallery["noir"][0]
    response = client.get(f"/api/photos/{photo.pk}/similar/?k=4")
    assert response.status_code == 200
    body = response.json()
    assert body["photo"] == photo.pk
    assert body["variant"] == "style_knn"
    assert len(body["results"]) == 4
    first = body["results"][0]
    for key in ("id", "score", "rank", "original_filename", "thumbnail_url", "page_url", "reasons"):
        assert key in first
    assert first["rank"] == 1
    assert first["thumbnail_url"].startswith("http://testserver/media/")
    assert isinstance(first["reasons"], list) and first["reasons"]
    ids = [item["id"] for item in body["results"]]
    assert photo.pk not in ids
    assert set(ids) <= {p.pk for p in gallery["noir"]}
    scores = [item["score"] for item in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_default_k_is_ten_and_capped_by_the_gallery(client, gallery):
    body = client.get(f"/api/photos/{gallery['warm'][0].pk}/similar/").json()
    assert len(body["results"]) == 9  # ten photos, minus itself


@pytest.mark.parametrize("k", ["0", "-3", "abc", "51"])
def test_bad_k_is_a_clear_400(client, gallery, k):
    response = client.get(f"/api/photos/{gallery['warm'][0].pk}/similar/?k={k}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["k"]
    assert body["detail"] == f"k: {body['errors']['k'][0]}"


def test_similar_for_a_missing_or_hidden_photo_is_404(client, gallery):
    assert client.get("/api/photos/99999/similar/").status_code == 404
    hidden = gallery["warm"][1]
    Photo.objects.filter(pk=hidden.pk).update(published=False)
    assert client.get(f"/api/photos/{hidden.pk}/similar/").status_code == 404


def test_forced_variant_is_reported(client, gallery, settings):
    settings.STYLEFINDER_AB_VARIANT = "style_knn"
    body = client.get(f"/api/photos/{gallery['noir'][0].pk}/similar/?k=3").json()
    assert body["variant"] == "style_knn"
    assert len(body["results"]) == 3


def test_upload_finds_photos_of_the_same_style(client, gallery, media_root):
    from recommender.services import recluster

    recluster()
    before = sorted(p.name for p in media_root.rglob("*") if p.is_file())
    response = client.post("/api/similar/", {"image": jpeg_upload(scene(42, "noir")), "k": 5})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["photo"] is None
    assert body["variant"] == "style_knn"
    assert {item["id"] for item in body["results"]} <= {p.pk for p in gallery["noir"]}
    assert len(body["results"]) == 5
    # Analysed and discarded: nothing stored.
    assert Photo.objects.count() == 10
    assert sorted(p.name for p in media_root.rglob("*") if p.is_file()) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"<html><body>hello</body></html>", "not a JPEG"),
        (image_bytes("JPEG", size=(300, 200))[:400], "truncated"),
    ],
    ids=["empty", "html", "truncated"],
)
def test_bad_uploads_are_a_clear_400(client, gallery, data, message):
    upload = io.BytesIO(data)
    upload.name = "query.jpg"
    response = client.post("/api/similar/", {"image": upload})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert message in body["errors"]["image"][0]
    assert body["detail"].startswith("image: ") and message in body["detail"]
    assert Photo.objects.count() == 10


def test_an_empty_k_in_the_form_is_a_400_not_the_default(client, gallery):
    response = client.post("/api/similar/", {"image": jpeg_upload(scene(2, "warm")), "k": ""})
    assert response.status_code == 400
    assert response.json()["errors"] == {"k": ["A valid integer is required."]}


def test_missing_image_field_is_a_clear_400(client, gallery):
    response = client.post("/api/similar/", {"k": 3})
    assert response.status_code == 400
    assert response.json()["errors"] == {"image": ["No file was submitted."]}


def test_upload_on_an_empty_gallery_returns_no_results(client, db):
    response = client.post("/api/similar/", {"image": jpeg_upload(scene(1, "warm"))})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_query_uploads_have_their_own_pixel_ceiling(client, gallery, settings):
    settings.STYLEFINDER_MAX_QUERY_PIXELS = 100 * 100
    big = jpeg_upload(scene(3, "warm").resize((150, 100)))
    response = client.post("/api/similar/", {"image": big})
    assert response.status_code == 400
    assert "megapixels" in response.json()["errors"]["image"][0]
    # The photographer's own ingest limit is unaffected.
    from photos.services import ingest_photo

    ingest_photo(jpeg_upload(scene(3, "warm").resize((150, 100)), "ok.jpg"))


# --- Modes ----------------------------------------------------------------------------------------


def test_look_mode_answers_outside_the_experiment(client, gallery):
    photo = gallery["noir"][0]
    body = client.get(f"/api/photos/{photo.pk}/similar/?k=4&mode=look").json()
    assert body["mode"] == "look"
    assert body["variant"] is None
    ids = [item["id"] for item in body["results"]]
    assert len(ids) == 4 and photo.pk not in ids
    assert set(ids) <= {p.pk for p in gallery["noir"]}  # the same look first


def test_the_default_mode_is_the_experiment_list(client, gallery):
    photo = gallery["warm"][0]
    plain = client.get(f"/api/photos/{photo.pk}/similar/?k=3").json()
    named = client.get(f"/api/photos/{photo.pk}/similar/?k=3&mode=default").json()
    assert plain["mode"] == named["mode"] == "default"
    assert plain["variant"] == named["variant"] == "style_knn"
    assert [r["id"] for r in plain["results"]] == [r["id"] for r in named["results"]]


def test_scene_mode_without_the_cnn_says_it_served_the_default(client, gallery):
    body = client.get(f"/api/photos/{gallery['warm'][0].pk}/similar/?mode=scene").json()
    assert body["mode"] == "default"  # no content embedding here: no scene to compare
    assert body["results"]


def test_a_mode_the_photographer_turned_off_is_served_as_the_default(client, gallery):
    photo = gallery["noir"][0]
    knobs = RecommenderSettings.load()
    knobs.look_mode = False
    knobs.save()
    body = client.get(f"/api/photos/{photo.pk}/similar/?k=4&mode=look").json()
    assert body["mode"] == "default" and body["variant"] == "style_knn"
    knobs.look_mode = True
    knobs.save()
    body = client.get(f"/api/photos/{photo.pk}/similar/?k=4&mode=look").json()
    assert body["mode"] == "look" and body["variant"] is None


def test_an_unknown_mode_is_a_clear_400(client, gallery):
    response = client.get(f"/api/photos/{gallery['warm'][0].pk}/similar/?mode=colour")
    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == ["mode"]
    assert "is not a valid choice" in body["errors"]["mode"][0]


def test_an_upload_can_ask_for_the_look(client, gallery):
    upload = jpeg_upload(scene(50, "noir"))
    body = client.post("/api/similar/", {"image": upload, "k": "3", "mode": "look"}).json()
    assert body["mode"] == "look" and body["variant"] is None
    assert {item["id"] for item in body["results"]} <= {p.pk for p in gallery["noir"]}
