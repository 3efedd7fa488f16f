import pytest

from photos.models import Photo
from tests.helpers.images import image_file


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
    from api.pagination import PhotoPagination

    assert PhotoPagination.max_page_size == 500


def test_detail_and_missing(client, photos):
    photo = photos[2]
    body = client.get(f"/api/photos/{photo.pk}/").json()
    assert body["id"] == photo.pk
    assert body["original_filename"] == "p2.jpg"
    missing = client.get("/api/photos/999999/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No Photo matches the given query.", "code": "not_found"}


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


# --- filters: ?cluster=, ?status=, ?search= ------------------------------------------------------


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


@pytest.fixture
def described(ingest):
    """Three photos with words in different places (title, description, file name)."""
    return {
        "harbour": ingest(
            image_file("IMG_0001.jpg", seed=11), title="Harbour at dawn", description="Boats."
        ),
        "market": ingest(
            image_file("IMG_0002.jpg", seed=12), title="Market", description="Fog over the harbour."
        ),
        "lighthouse": ingest(image_file("lighthouse_north.jpg", seed=13), title=""),
    }


def test_search_looks_in_title_description_and_file_name(client, described):
    assert ids(client.get("/api/photos/?search=HARBOUR")) == {
        described["harbour"].pk,
        described["market"].pk,
    }
    assert ids(client.get("/api/photos/?search=lighthouse")) == {described["lighthouse"].pk}
    assert ids(client.get("/api/photos/?search=img_0002")) == {described["market"].pk}
    # Every word must match (in any of the fields).
    assert ids(client.get("/api/photos/?search=harbour fog")) == {described["market"].pk}
    assert ids(client.get("/api/photos/?search=zebra")) == set()
    assert len(ids(client.get("/api/photos/?search=%20"))) == 3  # blank: no filter


def test_search_ignores_nul_characters_and_limits_its_length(client, described):
    assert ids(client.get("/api/photos/?search=mar%00ket")) == {described["market"].pk}
    response = client.get("/api/photos/", {"search": "x" * 201})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["search"]


def test_status_filter_is_for_staff_visitors_only_see_ready_photos(
    client, staff_api, described, db
):
    from photos.services import ingest_photo

    pending = ingest_photo(image_file("pending.jpg", seed=14))  # not processed in the test
    Photo.objects.filter(pk=described["market"].pk).update(status=Photo.Status.FAILED)
    assert ids(staff_api.get("/api/photos/?status=pending")) == {pending.pk}
    assert ids(staff_api.get("/api/photos/?status=failed")) == {described["market"].pk}
    assert ids(staff_api.get("/api/photos/?status=ready")) == {
        described["harbour"].pk,
        described["lighthouse"].pk,
    }
    assert ids(client.get("/api/photos/?status=pending")) == set()
    assert ids(client.get("/api/photos/?status=failed")) == set()
    assert ids(client.get("/api/photos/?status=ready")) == ids(
        staff_api.get("/api/photos/?status=ready")
    )


def test_cluster_filter_gives_an_albums_photos_nearest_its_centre_first(client, photos):
    from recommender.models import Membership
    from recommender.services import recluster

    run = recluster(k=2).run
    memberships = Membership.objects.filter(run=run).select_related("cluster")
    album_id = memberships[0].cluster.album_id
    expected = [
        m.photo_id
        for m in sorted(
            (m for m in memberships if m.cluster.album_id == album_id),
            key=lambda m: (m.distance, m.photo_id),
        )
    ]
    body = client.get(f"/api/photos/?cluster={album_id}").json()
    assert [item["id"] for item in body["results"]] == expected
    assert {item["cluster"] for item in body["results"]} == {album_id}
    assert body["count"] == len(expected) < 5
    assert ids(client.get("/api/photos/?cluster=999999")) == set()


def test_hidden_albums_photos_are_not_listed_by_cluster(client, photos):
    from recommender.models import Album
    from recommender.services import recluster

    recluster(k=2)
    album = Album.objects.first()
    assert ids(client.get(f"/api/photos/?cluster={album.pk}"))
    Album.objects.filter(pk=album.pk).update(hidden=True)
    assert ids(client.get(f"/api/photos/?cluster={album.pk}")) == set()
    # The photos themselves stay visible, without an album.
    body = client.get("/api/photos/").json()
    assert body["count"] == 5
    assert album.pk not in {item["cluster"] for item in body["results"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cluster=abc", "cluster"),
        ("cluster=0", "cluster"),
        ("cluster=", "cluster"),
        ("cluster=99999999999999999999999", "cluster"),
        ("status=archived", "status"),
        ("page_size=0", "page_size"),
        ("page_size=ten", "page_size"),
    ],
)
def test_bad_filter_values_are_a_400_naming_the_parameter(client, photos, query, field):
    response = client.get(f"/api/photos/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]


@pytest.mark.parametrize("page", ["0", "2", "x", "", "99999999999999999999999999"])
def test_a_page_that_does_not_exist_is_a_404(client, photos, page):
    response = client.get(f"/api/photos/?page={page}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page.", "code": "not_found"}
    assert client.get("/api/photos/?page=last").status_code == 200


def test_filters_do_not_add_queries(client, photos, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/api/photos/?cluster=1&status=ready&search=p1")
    assert response.status_code == 200
