import pytest

from photos.models import Photo
from tests.factories import image_file


@pytest.fixture
def photos(ingest):
    return [ingest(image_file(f"p{i}.jpg", size=(120, 80), seed=i)) for i in range(5)]


def test_list_has_the_documented_fields_and_absolute_urls(client, photos):
    response = client.get("/api/photos/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    item = body["results"][0]
    for key in (
        "id",
        "title",
        "original_filename",
        "status",
        "width",
        "height",
        "thumbnail_url",
        "image_url",
        "cluster",
    ):
        assert key in item
    assert item["status"] == "ready"
    assert item["thumbnail_url"].startswith("http://testserver/media/renditions/")
    assert item["image_url"].startswith("http://testserver/media/renditions/")
    assert (item["width"], item["height"]) == (120, 80)


def test_thumbnail_url_serves_the_image(client, photos):
    url = client.get(f"/api/photos/{photos[0].pk}/").json()["thumbnail_url"]
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert b"WEBP" in b"".join(response.streaming_content)[:16]


def test_page_size_is_honoured_and_capped(client, photos):
    body = client.get("/api/photos/?page_size=2").json()
    assert len(body["results"]) == 2 and body["next"]
    body = client.get("/api/photos/?page_size=100000").json()
    assert len(body["results"]) == 5
    from recommender.api.pagination import PhotoPagination

    assert PhotoPagination.max_page_size == 500


def test_detail_and_missing(client, photos):
    photo = photos[2]
    body = client.get(f"/api/photos/{photo.pk}/").json()
    assert body["id"] == photo.pk
    assert body["original_filename"] == "p2.jpg"
    assert client.get("/api/photos/999999/").status_code == 404


def test_unpublished_photos_are_hidden_from_visitors_but_not_staff(client, admin_client, photos):
    Photo.objects.filter(pk=photos[0].pk).update(published=False)
    assert client.get("/api/photos/").json()["count"] == 4
    assert client.get(f"/api/photos/{photos[0].pk}/").status_code == 404
    assert admin_client.get("/api/photos/").json()["count"] == 5


def test_pending_photo_has_no_image_urls_yet(admin_client, db):
    from photos.services import ingest_photo

    photo = ingest_photo(image_file("pending.jpg"))  # on_commit never runs inside the test
    body = admin_client.get(f"/api/photos/{photo.pk}/").json()
    assert body["status"] == "pending"
    assert body["thumbnail_url"] is None and body["image_url"] is None


def test_list_queries_do_not_grow_with_photos(client, photos, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        client.get("/api/photos/?page_size=500")


def test_cluster_is_the_photos_album_in_the_active_run(client, photos):
    from recommender.models import Membership
    from recommender.services import recluster

    run = recluster(k=2).run
    body = client.get("/api/photos/?page_size=500").json()
    albums = {m.photo_id: m.cluster.album_id for m in Membership.objects.filter(run=run)}
    assert {item["id"]: item["cluster"] for item in body["results"]} == albums
