"""The public gallery and photo page (gallery.views, gallery.selectors, templates/gallery)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from gallery import selectors
from photos.models import Photo
from photos.services import ingest_photo
from tests.helpers.html import start_tags
from tests.helpers.html import tags as html_tags
from tests.helpers.images import image_file

pytestmark = pytest.mark.django_db


# --- helpers ---------------------------------------------------------------------------------


def tags(response, name: str | None = None) -> list[dict[str, str | None]]:
    return html_tags(response.content.decode(), name)


def grid_images(response) -> list[dict[str, str | None]]:
    return [img for img in tags(response, "img") if img.get("loading") == "lazy"]


def grid_photo_ids(response) -> list[int]:
    return [photo.pk for photo in response.context["page_obj"].object_list]


def rel_link(response, rel: str) -> str | None:
    links = [a["href"] for a in tags(response, "a") if a.get("rel") == rel]
    assert len(links) <= 1, links
    return links[0] if links else None


@pytest.fixture
def make_photo(ingest):
    """A READY photo; a counter gives every photo different pixels (no duplicates)."""
    counter = iter(range(1, 10_000))

    def _make(title: str = "", size=(64, 48), **kwargs) -> Photo:
        seed = next(counter)
        return ingest(
            image_file(f"photo-{seed}.jpg", size=size, seed=seed),
            title=title or f"Photo {seed}",
            **kwargs,
        )

    return _make


def pending_photo(title: str = "Pending", seed: int = 900) -> Photo:
    """Ingested inside the test's transaction: processing never runs, the photo stays pending."""
    photo = ingest_photo(image_file("pending.jpg", seed=seed), title=title)
    assert photo.status == Photo.Status.PENDING
    return photo


def set_created(photo: Photo, when: dt.datetime) -> None:
    Photo.objects.filter(pk=photo.pk).update(created_at=when)


GALLERY = reverse("gallery:index")
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


# --- gallery ---------------------------------------------------------------------------------


def test_empty_gallery_shows_friendly_message(client):
    response = client.get(GALLERY)
    assert response.status_code == 200
    assert "No photographs yet" in response.content.decode()
    assert reverse("admin:index") not in response.content.decode()


def test_empty_gallery_links_staff_to_admin(admin_client):
    response = admin_client.get(GALLERY)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No photographs yet" in html
    assert response.context["admin_photos_url"].startswith(reverse("admin:index"))
    assert f'href="{response.context["admin_photos_url"]}"' in html


def test_gallery_lists_only_public_photos_newest_first(client, make_photo):
    oldest = make_photo("Oldest")
    hidden = make_photo("Hidden", published=False)
    failed = make_photo("Broken")
    Photo.objects.filter(pk=failed.pk).update(status=Photo.Status.FAILED, error="boom")
    newest = make_photo("Newest")
    pending = pending_photo("Still processing")

    response = client.get(GALLERY)

    assert response.status_code == 200
    assert grid_photo_ids(response) == [newest.pk, oldest.pk]
    html = response.content.decode()
    for visible in (newest, oldest):
        assert f'href="{visible.get_absolute_url()}"' in html
    for invisible in (hidden, failed, pending):
        assert f'href="{invisible.get_absolute_url()}"' not in html
        assert invisible.display_title not in html
    assert "2 photographs" in html


def test_grid_images_are_lazy_responsive_and_sized(client, make_photo):
    photo = make_photo("Harbour", size=(1200, 800), description="Boats at dusk\nSecond line")

    response = client.get(GALLERY)

    (img,) = grid_images(response)
    thumb, medium = photo.rendition("thumb"), photo.rendition("medium")
    assert img["srcset"] == f"{thumb.file.url} 400w, {medium.file.url} 800w"
    assert img["src"] == medium.file.url
    assert img["sizes"]
    assert img["decoding"] == "async"
    assert (img["width"], img["height"]) == ("800", "533")
    assert img["alt"] == "Boats at dusk"
    # The tile carries its aspect-ratio class for the justified rows (1200/800 = 1.5 → r-30).
    assert 'class="photo-grid__item r-30"' in response.content.decode()


def test_small_photo_lists_each_width_once_in_srcset(client, make_photo):
    photo = make_photo("Tiny", size=(300, 200))
    (img,) = grid_images(client.get(GALLERY))
    assert img["srcset"] == f"{photo.rendition('thumb').file.url} 300w"
    assert img["alt"] == "Tiny"


def test_gallery_pagination(client, make_photo, settings):
    settings.STYLEFINDER_GALLERY_PAGE_SIZE = 2
    photos = [make_photo(f"P{i}") for i in range(5)]
    newest_first = [p.pk for p in reversed(photos)]

    first = client.get(GALLERY)
    assert grid_photo_ids(first) == newest_first[:2]
    assert rel_link(first, "prev") is None
    assert rel_link(first, "next") == "?page=2"

    second = client.get(GALLERY, {"page": 2})
    assert grid_photo_ids(second) == newest_first[2:4]
    assert rel_link(second, "prev") == "?page=1"
    assert rel_link(second, "next") == "?page=3"
    assert "page 2 of 3" in second.content.decode()

    last = client.get(GALLERY, {"page": 3})
    assert grid_photo_ids(last) == newest_first[4:]
    assert rel_link(last, "next") is None

    assert grid_photo_ids(client.get(GALLERY, {"page": "last"})) == newest_first[4:]


@pytest.mark.parametrize(
    "page", ["abc", "0", "-1", "4", "1.5", "1e3", "99999999999999999999999999", "%00"]
)
def test_bad_page_values_are_404_not_500(client, make_photo, settings, page):
    settings.STYLEFINDER_GALLERY_PAGE_SIZE = 2
    for i in range(5):
        make_photo(f"P{i}")
    assert client.get(GALLERY, {"page": page}).status_code == 404


def test_empty_page_parameter_is_first_page(client, make_photo):
    photo = make_photo()
    response = client.get(GALLERY, {"page": ""})
    assert response.status_code == 200
    assert grid_photo_ids(response) == [photo.pk]


def test_page_two_of_empty_gallery_is_404(client):
    assert client.get(GALLERY, {"page": 2}).status_code == 404


def test_gallery_query_count_does_not_grow_with_photos(
    client, make_photo, settings, django_assert_max_num_queries
):
    settings.STYLEFINDER_GALLERY_PAGE_SIZE = 24
    for i in range(30):
        make_photo(f"P{i}")
    # count + page + prefetched renditions; nothing per photo.
    with django_assert_max_num_queries(4):
        response = client.get(GALLERY)
    assert len(grid_images(response)) == 24


def test_gallery_rejects_post(client):
    assert client.post(GALLERY).status_code == 405


# --- photo page ------------------------------------------------------------------------------


def test_photo_page_shows_title_description_and_exif(client, make_photo):
    photo = make_photo("Morning fog", size=(1200, 800), description="Over the lake.\nVery early.")
    Photo.objects.filter(pk=photo.pk).update(
        camera_make="FUJIFILM",
        camera_model="X-T4",
        lens="XF35mmF1.4 R",
        focal_length_mm=35.0,
        aperture=2.8,
        exposure_time="1/250",
        iso=400,
        taken_at=dt.datetime(2023, 10, 7, 6, 45, tzinfo=dt.UTC),
    )

    response = client.get(photo.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 id="photo-title">Morning fog</h1>' in html
    assert "<title>Morning fog" in html
    assert "<p>Over the lake.<br>Very early.</p>" in html
    assert '<dl class="exif">' in html
    for label, value in [
        ("Camera", "FUJIFILM X-T4"),
        ("Lens", "XF35mmF1.4 R"),
        ("Focal length", "35 mm"),
        ("Aperture", "f/2.8"),
        ("Exposure", "1/250 s"),
        ("ISO", "400"),
    ]:
        assert f"<dt>{label}</dt>" in html
        assert f"<dd>{value}</dd>" in html
    assert '<time datetime="2023-10-07T06:45:00+00:00">7 October 2023</time>' in html


def test_photo_page_large_image(client, make_photo):
    photo = make_photo("Dunes", size=(2000, 1000))
    response = client.get(photo.get_absolute_url())
    (img,) = [i for i in tags(response, "img") if i.get("class") == "photo-stage__image"]
    medium, display = photo.rendition("medium"), photo.rendition("display")
    assert img["srcset"] == f"{medium.file.url} 800w, {display.file.url} 1600w"
    assert img["src"] == display.file.url
    assert (img["width"], img["height"]) == ("1600", "800")
    assert img["alt"] == "Dunes"
    assert img["sizes"]
    assert "loading" not in img  # the main image is not lazy


def test_photo_page_without_exif_has_no_definition_list(client, make_photo):
    photo = make_photo("Plain")
    html = client.get(photo.get_absolute_url()).content.decode()
    assert "<dl" not in html
    assert "Captured" not in html


def test_photo_page_has_similar_style_placeholder(client, make_photo):
    photo = make_photo()
    html = client.get(photo.get_absolute_url()).content.decode()
    assert (
        '<section id="similar" class="similar" aria-labelledby="similar-heading" '
        'data-variant="style_knn">' in html
    )
    assert '<h2 id="similar-heading">Similar style</h2>' in html
    assert "Recommendations will appear here once the photo library has been analysed" in html


def test_previous_and_next_follow_gallery_order(client, make_photo):
    oldest, middle, newest = make_photo("A"), make_photo("B"), make_photo("C")
    # Gallery order is newest first: C, B, A.

    response = client.get(middle.get_absolute_url())
    assert rel_link(response, "prev") == newest.get_absolute_url()
    assert rel_link(response, "next") == oldest.get_absolute_url()

    first = client.get(newest.get_absolute_url())
    assert rel_link(first, "prev") is None
    assert rel_link(first, "next") == middle.get_absolute_url()

    last = client.get(oldest.get_absolute_url())
    assert rel_link(last, "prev") == middle.get_absolute_url()
    assert rel_link(last, "next") is None


def test_previous_and_next_break_ties_like_the_gallery(client, make_photo):
    photos = [make_photo(f"T{i}") for i in range(3)]
    for photo in photos:
        set_created(photo, T0)  # same instant: the gallery orders by id, descending
    gallery_order = grid_photo_ids(client.get(GALLERY))
    assert gallery_order == [p.pk for p in reversed(photos)]

    middle = Photo.objects.get(pk=gallery_order[1])
    response = client.get(middle.get_absolute_url())
    assert rel_link(response, "prev") == reverse("gallery:photo", args=[gallery_order[0]])
    assert rel_link(response, "next") == reverse("gallery:photo", args=[gallery_order[2]])


def test_previous_and_next_skip_photos_visitors_cannot_see(client, make_photo):
    oldest = make_photo("A")
    make_photo("Hidden", published=False)
    middle = make_photo("B")
    pending_photo("Pending")
    newest = make_photo("C")

    response = client.get(middle.get_absolute_url())
    assert rel_link(response, "prev") == newest.get_absolute_url()
    assert rel_link(response, "next") == oldest.get_absolute_url()


def test_back_link_returns_to_the_photos_gallery_page(client, make_photo, settings):
    settings.STYLEFINDER_GALLERY_PAGE_SIZE = 2
    photos = [make_photo(f"P{i}") for i in range(5)]
    # Newest first: P4 P3 | P2 P1 | P0
    html = client.get(photos[1].get_absolute_url()).content.decode()
    assert f'href="/?page=2#photo-{photos[1].pk}"' in html
    html = client.get(photos[4].get_absolute_url()).content.decode()
    assert f'href="/#photo-{photos[4].pk}"' in html
    assert selectors.gallery_page_number_of(photos[0]) == 3


def test_unpublished_photo_is_404_for_visitors_and_a_preview_for_staff(
    client, admin_client, make_photo
):
    photo = make_photo("Secret", published=False)

    assert client.get(photo.get_absolute_url()).status_code == 404

    response = admin_client.get(photo.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Staff preview." in html
    assert "it is not published" in html
    assert '<meta name="robots" content="noindex, nofollow">' in html


@pytest.mark.parametrize("status", [Photo.Status.PENDING, Photo.Status.FAILED])
def test_photo_not_ready_is_404_for_visitors(client, admin_client, make_photo, status):
    photo = make_photo("Not ready")
    Photo.objects.filter(pk=photo.pk).update(status=status)
    assert client.get(photo.get_absolute_url()).status_code == 404
    response = admin_client.get(photo.get_absolute_url())
    assert response.status_code == 200
    assert "Staff preview." in response.content.decode()


def test_staff_preview_of_photo_without_renditions(admin_client):
    photo = pending_photo("Fresh upload")
    response = admin_client.get(photo.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "it is still being processed" in html
    assert "No web version of this photo yet" in html
    assert tags(response, "img") == []


def test_public_photo_has_no_staff_notice(admin_client, make_photo):
    photo = make_photo()
    html = admin_client.get(photo.get_absolute_url()).content.decode()
    assert "Staff preview." not in html
    assert '<link rel="canonical" href="http://testserver' in html


def test_missing_photo_is_404(client):
    assert client.get(reverse("gallery:photo", args=[424242])).status_code == 404


@pytest.mark.parametrize("kind", ["photos", "albums"])
@pytest.mark.parametrize("number", ["9999999999999999999999999", "9223372036854775808", "9" * 5000])
def test_ids_no_database_can_hold_are_404_not_500(client, kind, number):
    """An id past the database's integer range used to overflow inside the query (500)."""
    response = client.get(f"/{kind}/{number}/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert client.get(f"/{kind}/999999999999999999/").status_code == 404  # the largest allowed


def test_photo_page_query_count(client, make_photo, django_assert_max_num_queries):
    from recommender.services import recluster

    photos = [make_photo(f"P{i}") for i in range(5)]
    recluster()
    # photo + renditions + previous + next + gallery position, then the similar strip:
    # recommender settings (is the index stale?) + active run + neighbours (one query)
    # + the running A/B experiment, + the active run for the "Same scene" strip
    with django_assert_max_num_queries(10):
        assert client.get(photos[2].get_absolute_url()).status_code == 200


# --- page shell --------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["gallery", "photo"])
def test_pages_are_accessible_and_self_contained(client, make_photo, which):
    photo = make_photo("Shell")
    url = GALLERY if which == "gallery" else photo.get_absolute_url()
    response = client.get(url)
    html = response.content.decode()

    assert '<html lang="en">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<a class="skip-link" href="#main">' in html
    for landmark in ("<header", "<nav", '<main id="main"', "<footer"):
        assert landmark in html

    all_tags = tags(response)
    # No inline scripts, styles or event handlers (a strict CSP comes later); scripts deferred.
    scripts = [attrs for tag, attrs in _tag_pairs(response) if tag == "script"]
    assert scripts and all(s.get("src") and "defer" in s for s in scripts)
    assert not [tag for tag, _ in _tag_pairs(response) if tag == "style"]
    assert not [a for a in all_tags if "style" in a or any(k.startswith("on") for k in a)]
    # No external URLs: everything comes from this site.
    for attrs in all_tags:
        for key in ("src", "href", "srcset"):
            value = attrs.get(key)
            if value is not None and attrs.get("rel") != "canonical":
                assert not value.startswith(("http:", "https:", "//")), (key, value)


def _tag_pairs(response):
    return start_tags(response.content.decode())


def test_nav_marks_the_gallery_as_current_page(client):
    html = client.get(GALLERY).content.decode()
    assert '<a href="/" aria-current="page">Gallery</a>' in html


def test_gallery_page_queries_do_not_grow_with_photos(
    client, make_photo, settle, django_assert_max_num_queries
):
    for _ in range(3):
        make_photo()
    settle()
    client.get(GALLERY)  # the first reader after a change may ask for a re-cluster; not this one
    with django_assert_max_num_queries(6) as few:
        assert client.get(GALLERY).status_code == 200
    three = len(few)
    assert three > 0
    for _ in range(12):
        make_photo()
    settle()
    client.get(GALLERY)
    with django_assert_max_num_queries(three):
        response = client.get(GALLERY)
    assert len(grid_photo_ids(response)) == 15
