"""GET /api/albums/ and /api/albums/{id}/: the public albums, as the album pages show them."""

import pytest

from photos.models import Photo
from tests.helpers.images import image_file


@pytest.fixture
def run(ingest):
    from recommender.services import recluster

    for i in range(6):
        ingest(image_file(f"a{i}.jpg", size=(96, 64), seed=100 + i))
    return recluster(k=2).run


def test_the_list_is_the_album_pages_cards(client, run):
    from gallery.selectors import albums_overview

    cards = albums_overview().cards
    body = client.get("/api/albums/").json()
    assert body["count"] == len(cards) == 2
    assert [a["id"] for a in body["results"]] == [c.album.pk for c in cards]
    first, card = body["results"][0], cards[0]
    assert first["name"] == card.name
    assert first["attributes"] == card.attributes
    assert first["photo_count"] == card.count
    assert first["cover"] == card.cover.pk
    assert first["cover_thumbnail_url"].startswith("http://testserver/media/renditions/")
    assert first["page_url"] == f"http://testserver/albums/{card.album.pk}/"
    assert first["url"] == f"http://testserver/api/albums/{card.album.pk}/"
    assert first["photos_url"] == f"http://testserver/api/photos/?cluster={card.album.pk}"
    assert sum(a["photo_count"] for a in body["results"]) == 6


def test_detail_and_its_photos_link(client, run):
    album = client.get("/api/albums/").json()["results"][0]
    detail = client.get(f"/api/albums/{album['id']}/")
    assert detail.status_code == 200
    assert detail.json() == album
    photos = client.get(album["photos_url"].removeprefix("http://testserver")).json()
    assert photos["count"] == album["photo_count"]
    assert {p["cluster"] for p in photos["results"]} == {album["id"]}


def test_hidden_albums_are_invisible_to_visitors_and_staff(client, staff_api, run):
    from recommender.models import Album

    hidden = Album.objects.order_by("pk").first()
    Album.objects.filter(pk=hidden.pk).update(hidden=True)
    for api in (client, staff_api):
        listed = {a["id"] for a in api.get("/api/albums/").json()["results"]}
        assert hidden.pk not in listed and len(listed) == 1
        response = api.get(f"/api/albums/{hidden.pk}/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_an_album_counts_only_public_photos(client, run):
    album = client.get("/api/albums/").json()["results"][0]
    some = Photo.objects.filter(memberships__cluster__album_id=album["id"]).first()
    Photo.objects.filter(pk=some.pk).update(published=False)
    again = client.get(f"/api/albums/{album['id']}/").json()
    assert again["photo_count"] == album["photo_count"] - 1


def test_no_albums_before_the_library_is_analysed(client, db):
    assert client.get("/api/albums/").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    assert client.get("/api/albums/1/").status_code == 404


def test_unknown_album_ids(client, run):
    assert client.get("/api/albums/999999/").status_code == 404
    assert client.get("/api/albums/99999999999999999999999/").status_code == 404
    response = client.get("/api/albums/abc/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_list_queries_are_few(client, run, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert client.get("/api/albums/").status_code == 200
