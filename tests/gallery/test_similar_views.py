"""Similar photos on the public site: the photo page's "Similar style" strip and the
"find photos like yours" upload (gallery.views, gallery.forms, templates/gallery)."""

from __future__ import annotations

import base64
import html as html_lib
import io
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from gallery import views
from photos.models import Photo
from photos.services import set_published
from recommender.models import FeatureVector, RecommenderSettings
from recommender.services import recluster
from tests.helpers.html import assert_self_contained, section, tags
from tests.helpers.images import jpeg_bytes, named, styled

pytestmark = pytest.mark.django_db

FIND_SIMILAR = reverse("gallery:find_similar")


# --- helpers ---------------------------------------------------------------------------------


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A PNG whose header claims 1.6 gigapixels: refused from the header, never decoded."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def similar_section(response) -> str:
    return section(response.content.decode(), '<section id="similar"')


def results_section(response) -> str:
    return section(response.content.decode(), '<section class="finder__results"')


def recommended_links(fragment: str) -> list[dict[str, str | None]]:
    return [a for a in tags(fragment, "a") if a.get("data-photo")]


def recommended_ids(fragment: str) -> list[int]:
    return [int(a["data-photo"]) for a in recommended_links(fragment)]


def captions(fragment: str) -> list[str]:
    """The text of every reasons caption: "Black & white · low-key"."""
    found = re.findall(
        r'<span class="rec__reasons">((?:<span>[^<]*</span>(?: · )?)+)</span>', fragment
    )
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", caption)) for caption in found]


def media_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()}


@pytest.fixture
def gallery(ingest, settle) -> dict[str, list[Photo]]:
    """Five noir and five warm photos, READY, with renditions and style features."""
    photos: dict[str, list[Photo]] = {"noir": [], "warm": []}
    for i in range(5):
        for style, bucket in photos.items():
            photo = ingest(
                named(jpeg_bytes(styled(i, style)), f"{style}-{i}.jpg"), title=f"{style} {i}"
            )
            assert photo.status == Photo.Status.READY, photo.error
            bucket.append(photo)
    settle()
    return photos


# --- presentation helpers --------------------------------------------------------------------


def test_reasons_caption_capitalises_and_joins():
    assert views.reasons_caption(["black & white", "low-key"]) == "Black & white · low-key"
    assert views.reasons_caption(["warm"]) == "Warm"
    assert views.reasons_caption(["", "  "]) == ""
    assert views.reasons_caption([]) == ""


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1200, 800), (400, 267)),
        ((800, 1200), (267, 400)),
        ((300, 200), (300, 200)),
        ((0, 0), (400, 400)),
    ],
)
def test_thumbnail_size_fits_the_rendition(size, expected):
    assert views.fit_within(*size, views.THUMB_SIDE) == expected


# --- photo page: "Similar style" -------------------------------------------------------------


def test_photo_page_lists_similar_photos_of_the_same_style_first(client, gallery):
    photo = gallery["noir"][0]
    response = client.get(photo.get_absolute_url())
    assert response.status_code == 200
    html = similar_section(response)

    assert 'data-variant="style_knn"' in html
    links = recommended_links(html)
    ids = recommended_ids(html)
    assert len(ids) == 8
    assert photo.pk not in ids  # never a link to itself
    other_noir = {p.pk for p in gallery["noir"][1:]}
    assert set(ids[:4]) == other_noir, "the other noir photos come first"
    assert [a["data-position"] for a in links] == [str(i) for i in range(1, 9)]
    by_pk = {p.pk: p for p in gallery["noir"] + gallery["warm"]}
    for link in links:
        assert link["href"] == by_pk[int(link["data-photo"])].get_absolute_url()

    # Thumbnails: the 400 px rendition, described, sized and lazy.
    images = tags(html, "img")
    assert len(images) == 8
    for image, pk in zip(images, ids, strict=True):
        shown = by_pk[pk]
        assert image["src"] == shown.rendition("thumb").file.url
        assert image["alt"] == shown.alt_text
        assert (image["width"], image["height"]) == ("240", "160")
        assert image["loading"] == "lazy"

    # Reasons as a short caption, first letter capitalised, one per photo.
    shown = captions(html)
    assert len(shown) == 8
    assert all(caption[0].isupper() for caption in shown)
    assert shown[0].startswith("Black & white · ")
    assert "low-key" in shown[0]
    assert "rec__score" not in html  # similarity numbers only on the find-similar page
    assert "Recommendations will appear here" not in html


def test_photo_page_of_a_warm_photo_lists_warm_photos_first(client, gallery):
    photo = gallery["warm"][2]
    ids = recommended_ids(similar_section(client.get(photo.get_absolute_url())))
    assert set(ids[:4]) == {p.pk for p in gallery["warm"]} - {photo.pk}
    assert captions(similar_section(client.get(photo.get_absolute_url())))[0].startswith("Warm")


def test_hidden_and_broken_photos_are_never_listed(client, gallery):
    unpublished = gallery["noir"][1]
    set_published([unpublished], False)
    quietly_hidden = gallery["noir"][2]  # hidden without telling the recommender
    Photo.objects.filter(pk=quietly_hidden.pk).update(published=False)
    failed = gallery["noir"][3]
    Photo.objects.filter(pk=failed.pk).update(status=Photo.Status.FAILED)

    for photo in (gallery["noir"][0], gallery["noir"][4], gallery["warm"][0]):
        response = client.get(photo.get_absolute_url())
        ids = recommended_ids(similar_section(response))
        assert ids, "still recommends the visible photos"
        for hidden in (unpublished, quietly_hidden, failed):
            assert hidden.pk not in ids
            assert hidden.get_absolute_url() not in similar_section(response)


def test_photo_page_query_count_is_bounded(client, gallery, django_assert_max_num_queries):
    recluster()  # the first reader after photos changed pays for the build; not this page
    client.get(gallery["noir"][0].get_absolute_url())
    # photo + renditions + previous + next + gallery position
    # + recommender settings + active run + precomputed neighbours (one query for all 8)
    for photo in (gallery["noir"][2], gallery["warm"][3]):
        with django_assert_max_num_queries(10):  # + the running experiment, + the same-scene run
            response = client.get(photo.get_absolute_url())
        assert len(recommended_ids(similar_section(response))) == 8


def test_a_lone_photo_keeps_the_quiet_message(client, ingest):
    photo = ingest(named(jpeg_bytes(styled(1, "noir")), "alone.jpg"))
    response = client.get(photo.get_absolute_url())
    html = similar_section(response)
    assert "Recommendations will appear here once the photo library has been analysed" in html
    assert recommended_ids(html) == []


def test_a_failing_recommender_does_not_break_the_photo_page(client, gallery, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(views.selectors, "similar_to_photo", broken)
    response = client.get(gallery["noir"][0].get_absolute_url())
    assert response.status_code == 200
    assert "Recommendations will appear here" in similar_section(response)


def test_staff_preview_of_a_hidden_photo_shows_public_recommendations(admin_client, gallery):
    photo = gallery["noir"][0]
    set_published([photo], False)
    response = admin_client.get(photo.get_absolute_url())
    assert response.status_code == 200
    ids = recommended_ids(similar_section(response))
    assert ids and photo.pk not in ids
    assert set(ids) <= {p.pk for p in gallery["noir"] + gallery["warm"]} - {photo.pk}


# --- find photos like yours: the page ----------------------------------------------------------


def test_header_links_to_find_similar(client):
    html = client.get(reverse("gallery:index")).content.decode()
    assert f'<a href="{FIND_SIMILAR}">Find similar</a>' in html
    html = client.get(FIND_SIMILAR).content.decode()
    assert f'<a href="{FIND_SIMILAR}" aria-current="page">Find similar</a>' in html


def test_find_similar_get_shows_the_empty_form(client):
    response = client.get(FIND_SIMILAR)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Find photos like yours</h1>" in html
    (form,) = tags(html, "form")
    assert form["method"] == "post"
    assert form["enctype"] == "multipart/form-data"
    assert form["action"] == FIND_SIMILAR
    inputs = {i["name"]: i for i in tags(html, "input")}
    assert inputs["image"]["type"] == "file"
    assert inputs["image"]["accept"] == "image/*"
    assert "csrfmiddlewaretoken" in inputs
    (button,) = tags(html, "button")
    assert button["type"] == "submit"
    assert "never stored and never added to the gallery" in html
    assert "finder__results" not in html
    assert "form-errors" not in html


def test_pages_with_similar_photos_are_self_contained(client, gallery):
    assert_self_contained(client.get(gallery["noir"][0].get_absolute_url()).content.decode())
    assert_self_contained(client.get(FIND_SIMILAR).content.decode())
    upload = named(jpeg_bytes(styled(60, "warm")), "mine.jpg")
    assert_self_contained(client.post(FIND_SIMILAR, {"image": upload}).content.decode())
    bad = named(b"nope", "x.jpg")
    assert_self_contained(client.post(FIND_SIMILAR, {"image": bad}).content.decode())


def test_find_similar_rejects_other_methods(client):
    assert client.put(FIND_SIMILAR).status_code == 405
    assert client.delete(FIND_SIMILAR).status_code == 405


def test_find_similar_needs_the_csrf_token(gallery):
    strict = Client(enforce_csrf_checks=True)
    upload = named(jpeg_bytes(styled(50, "noir")), "mine.jpg")
    assert strict.post(FIND_SIMILAR, {"image": upload}).status_code == 403


# --- find photos like yours: results ---------------------------------------------------------


def _stored_state(media_root) -> tuple[int, int, set[str]]:
    return Photo.objects.count(), FeatureVector.objects.count(), media_files(media_root)


@pytest.mark.parametrize("style", ["noir", "warm"])
def test_upload_returns_photos_of_its_style_first(client, gallery, media_root, style):
    recluster()  # so that the request itself has nothing to write
    before = _stored_state(media_root)
    upload = named(jpeg_bytes(styled(77, style)), f"my-{style}.jpg")

    response = client.post(FIND_SIMILAR, {"image": upload})

    assert response.status_code == 200
    html = results_section(response)
    assert 'data-variant="style_knn"' in html
    ids = recommended_ids(html)
    assert len(ids) == 10  # the whole gallery (12 asked for)
    assert set(ids[:5]) == {p.pk for p in gallery[style]}
    links = recommended_links(html)
    assert [a["data-position"] for a in links] == [str(i) for i in range(1, 11)]
    # Reasons and similarity under each result.
    assert html.count('class="rec__score"') == 10
    shown = captions(html)
    assert len(shown) >= 5
    assert shown[0].startswith("Black & white" if style == "noir" else "Warm")
    scores = [item.similarity_percent for item in response.context["results"]]
    assert scores == sorted(scores, reverse=True)
    assert f'{scores[0]}%<span class="visually-hidden"> similar</span>' in html

    # The visitor's photo is shown back as an in-memory JPEG, nothing more.
    page = response.content.decode()
    preview = next(img for img in tags(page, "img") if img["src"].startswith("data:"))
    assert preview["src"].startswith("data:image/jpeg;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(preview["src"].split(",", 1)[1])))
    assert decoded.format == "JPEG"
    assert max(decoded.size) <= views.PREVIEW_SIDE
    assert (preview["width"], preview["height"]) == (str(decoded.width), str(decoded.height))
    assert f"my-{style}.jpg" in page
    assert "Cache-Control" in response and "no-store" in response["Cache-Control"]

    # Nothing was stored: no photo, no vector, no file.
    assert _stored_state(media_root) == before


def test_large_upload_streamed_to_a_temporary_file_is_not_kept(
    client, gallery, media_root, settings
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # Django writes the upload to a temporary file
    recluster()
    before = _stored_state(media_root)
    upload = named(jpeg_bytes(styled(78, "noir").resize((1200, 800))), "big.jpg")
    response = client.post(FIND_SIMILAR, {"image": upload})
    assert response.status_code == 200
    assert set(recommended_ids(results_section(response))[:5]) == {p.pk for p in gallery["noir"]}
    assert _stored_state(media_root) == before


def test_upload_before_the_library_is_analysed(client, media_root):
    before = _stored_state(media_root)
    upload = named(jpeg_bytes(styled(3, "warm")), "first.jpg")
    response = client.post(FIND_SIMILAR, {"image": upload})
    assert response.status_code == 200
    html = results_section(response)
    assert recommended_ids(html) == []
    assert "No matches yet" in html
    assert _stored_state(media_root) == before


def test_hidden_photos_are_never_results(client, gallery):
    hidden = gallery["noir"][0]
    set_published([hidden], False)
    response = client.post(FIND_SIMILAR, {"image": named(jpeg_bytes(styled(9, "noir")), "a.jpg")})
    ids = recommended_ids(results_section(response))
    assert hidden.pk not in ids
    assert set(ids[:4]) == {p.pk for p in gallery["noir"][1:]}


# --- find photos like yours: bad uploads ----------------------------------------------------


def _truncated_jpeg() -> bytes:
    data = jpeg_bytes(styled(4, "warm"))
    return data[: len(data) // 2]


BAD_UPLOADS = {
    "empty": (b"", "empty.jpg", "The file is empty."),
    "text named .jpg": (b"just some text, not a photo\n" * 20, "photo.jpg", "is not a JPEG"),
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<script>alert(1)</script><rect width="10" height="10"/></svg>',
        "drawing.svg",
        "is not a JPEG",
    ),
    "html disguised as png": (b"<!doctype html><title>x</title>", "image.png", "is not a JPEG"),
    "truncated jpeg": (_truncated_jpeg(), "half.jpg", "truncated or damaged"),
    "decompression bomb": (bomb_png(), "bomb.png", "decompression bomb"),
}


def _assert_rejected(response, message: str, media_root, before) -> None:
    assert response.status_code == 400
    html = response.content.decode()
    errors = section(html, '<ul class="form-errors"', "</ul>")
    assert message in errors.replace("&#x27;", "'")
    assert 'aria-invalid="true"' in html
    assert "finder__results" not in html  # no results, no preview
    assert "data:image" not in html
    assert _stored_state(media_root) == before


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_uploads_are_explained_and_nothing_is_stored(client, gallery, media_root, case):
    recluster()
    before = _stored_state(media_root)
    data, name, message = BAD_UPLOADS[case]
    response = client.post(FIND_SIMILAR, {"image": named(data, name)})
    _assert_rejected(response, message, media_root, before)


def test_missing_file_is_explained(client, media_root):
    before = _stored_state(media_root)
    response = client.post(FIND_SIMILAR, {})
    _assert_rejected(response, "Choose a photo to upload.", media_root, before)
    # A text field instead of a file is "missing" too.
    response = client.post(FIND_SIMILAR, {"image": "not a file"})
    _assert_rejected(response, "Choose a photo to upload.", media_root, before)


def test_too_large_upload_is_refused_with_the_limit(client, media_root, settings):
    settings.STYLEFINDER_MAX_UPLOAD_BYTES = 2_000_000
    before = _stored_state(media_root)
    noisy = Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (1400, 1400, 3), dtype=np.uint8)
    )
    data = jpeg_bytes(noisy, quality=100)
    assert len(data) > 2_000_000
    response = client.post(FIND_SIMILAR, {"image": named(data, "huge.jpg")})
    _assert_rejected(response, "the limit is 2 MB", media_root, before)
    assert "up to 2 MB" in response.content.decode()  # the help text says so up front


def test_pixel_limit_from_settings_applies(client, media_root, settings, monkeypatch):
    # Ingest sets Pillow's process-wide pixel limit from settings; restore it afterwards.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    settings.STYLEFINDER_MAX_PIXELS = 10_000
    before = _stored_state(media_root)
    data = jpeg_bytes(styled(5, "noir").resize((120, 100)))  # 12,000 pixels
    response = client.post(FIND_SIMILAR, {"image": named(data, "wide.jpg")})
    _assert_rejected(response, "megapixels", media_root, before)


def test_a_failing_recommender_is_explained_not_a_server_error(client, gallery, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(views.selectors, "similar_to_upload", broken)
    response = client.post(FIND_SIMILAR, {"image": named(jpeg_bytes(styled(6, "noir")), "a.jpg")})
    assert response.status_code == 503
    html = response.content.decode()
    assert '<p class="form-error" role="alert">We could not compare your photo right now.' in html
    assert "finder__results" not in html


@pytest.mark.parametrize("size", [(1, 1), (3, 2000)])
def test_odd_but_valid_images_do_not_fail(client, gallery, size):
    image = Image.fromarray(
        np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    response = client.post(FIND_SIMILAR, {"image": named(buffer.getvalue(), "odd.png")})
    assert response.status_code == 200
    assert len(recommended_ids(results_section(response))) == 10


def test_an_upload_can_ask_for_the_same_look_outside_the_experiment(client, gallery, media_root):
    recluster()
    upload = named(jpeg_bytes(styled(78, "noir")), "mine.jpg")
    response = client.post(FIND_SIMILAR, {"image": upload, "mode": "look"})
    assert response.status_code == 200
    html = results_section(response)
    assert "Photos in the same look" in html
    assert "data-impression" not in html  # only the default list is logged against a variant
    assert set(recommended_ids(html)[:5]) == {p.pk for p in gallery["noir"]}
    page = response.content.decode()
    checked = [t for t in tags(page, "input") if t.get("name") == "mode" and "checked" in t]
    assert [t["value"] for t in checked] == ["look"]


def test_an_unknown_mode_is_explained(client, gallery, media_root):
    upload = named(jpeg_bytes(styled(79, "warm")), "mine.jpg")
    response = client.post(FIND_SIMILAR, {"image": upload, "mode": "colour"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_the_form_offers_only_the_modes_the_photographer_offers(client, gallery, media_root):
    def offered() -> list[str]:
        page = client.get(FIND_SIMILAR).content.decode()
        return [t["value"] for t in tags(page, "input") if t.get("name") == "mode"]

    assert offered() == ["default", "look", "scene"]
    knobs = RecommenderSettings.load()
    knobs.scene_mode = False
    knobs.save()
    assert offered() == ["default", "look"]
    upload = named(jpeg_bytes(styled(80, "warm")), "mine.jpg")
    response = client.post(FIND_SIMILAR, {"image": upload, "mode": "scene"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    knobs.look_mode = False
    knobs.save()
    assert offered() == []  # the default alone: no choice to make
    assert "upload__modes" not in client.get(FIND_SIMILAR).content.decode()


def test_a_scene_the_site_cannot_see_is_answered_with_similar_style(client, gallery, media_root):
    recluster()  # style features only: no content embedding, no scenes
    upload = named(jpeg_bytes(styled(81, "warm")), "mine.jpg")
    response = client.post(FIND_SIMILAR, {"image": upload, "mode": "scene"})
    assert response.status_code == 200
    html = results_section(response)
    assert "Photos in a similar style" in html and "Photos of the same scene" not in html
    assert "cannot compare scenes yet" in html
    assert recommended_ids(html)


def test_the_same_scene_strip_can_be_turned_off(gallery, monkeypatch):
    from gallery import selectors
    from recommender.selectors import Recommendation

    photo, others = gallery["noir"][0], [*gallery["noir"][1:], *gallery["warm"]]
    found = [Recommendation(p, 0.9 - i / 100, i + 1) for i, p in enumerate(others)]
    monkeypatch.setattr(selectors, "recommender_similar_to_photo", lambda *a: found)
    assert selectors.same_scene(photo, set())
    knobs = RecommenderSettings.load()
    knobs.same_scene_strip = False
    knobs.save()
    assert selectors.same_scene(photo, set()) == []


def test_the_same_scene_strip_shows_only_photos_the_strip_above_does_not(gallery, monkeypatch):
    from gallery import selectors
    from recommender.selectors import Recommendation

    photo, others = gallery["noir"][0], [*gallery["noir"][1:], *gallery["warm"]]
    found = [Recommendation(p, 0.9 - i / 100, i + 1) for i, p in enumerate(others)]
    monkeypatch.setattr(selectors, "recommender_similar_to_photo", lambda *a: found)
    shown = {p.pk for p in others[:4]}
    strip = selectors.same_scene(photo, shown)
    assert [r.photo.pk for r in strip] == [
        p.pk for p in others[4 : 4 + selectors.SAME_SCENE_ON_PHOTO_PAGE]
    ]
    # Fewer new photos than the minimum: no strip at all.
    shown = {p.pk for p in others[: len(others) - 1]}
    assert selectors.same_scene(photo, shown) == []


def test_the_form_shares_the_api_s_upload_limit(client, gallery, media_root, settings):
    """/similar/ analyses an image like POST /api/similar/: the same allowance, per connecting
    address, whatever X-Forwarded-For says; refused before the upload is read."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "similar_upload": "2/min",
        },
    }

    def send(**extra):
        upload = named(jpeg_bytes(styled(82, "warm")), "mine.jpg")
        return client.post(FIND_SIMILAR, {"image": upload}, **extra)

    codes = [send(HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(2)]
    assert codes == [200, 200]
    refused = send(HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    page = refused.content.decode()
    assert "You have compared many photos in a short time" in page
    assert 'name="image"' in page  # the form is still there, to try again later
    api = client.post("/api/similar/", {"image": named(jpeg_bytes(styled(83, "warm")), "a.jpg")})
    assert api.status_code == 429  # one allowance for both
    assert send(REMOTE_ADDR="10.9.8.7").status_code == 200
