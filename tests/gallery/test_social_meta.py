"""Social previews (gallery/social.py, templates/gallery/_social_meta.html) and sitemap.xml and
robots.txt (gallery/sitemaps.py, gallery/seo.py)."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest
from django.urls import reverse

from photos.models import Photo
from photos.services import set_published
from recommender.services import recluster
from tests.helpers.albums import build_albums
from tests.helpers.html import tags
from tests.helpers.images import jpeg_file, styled

pytestmark = pytest.mark.django_db
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def library(ingest) -> dict:
    photos: dict = {"noir": [], "warm": []}
    for i in range(4):
        for style in ("noir", "warm"):
            photo = ingest(jpeg_file(styled(i, style), f"{style}-{i}.jpg"), title=f"{style} {i}")
            assert photo.status == Photo.Status.READY, photo.error
            photos[style].append(photo)
    run = recluster().run
    photos["albums"] = build_albums(run, {"noir": photos["noir"], "warm": photos["warm"]})
    return photos


def meta(html: str) -> dict[str, str]:
    """property= and name= of every <meta> in the page, with their content."""
    found = {}
    for attrs in tags(html, "meta"):
        key = attrs.get("property") or attrs.get("name")
        if key:
            found[key] = attrs.get("content") or ""
    return found


# --- Open Graph and Twitter cards -----------------------------------------------------------


def test_a_photo_page_has_a_complete_card_with_absolute_urls(client, library):
    photo = library["noir"][0]
    Photo.objects.filter(pk=photo.pk).update(
        title='Tide "high" <script>alert(1)</script>', description="Low sun.\n\nBoats."
    )
    html = client.get(photo.get_absolute_url()).content.decode()
    card = meta(html)

    assert card["og:type"] == "article"
    assert card["og:title"] == 'Tide "high" <script>alert(1)</script>'  # parsed back, so…
    assert "<script>alert(1)</script>" not in html  # …escaped in the page
    assert card["og:description"] == "Low sun. Boats."
    assert card["og:url"] == f"http://testserver{photo.get_absolute_url()}"
    assert card["og:site_name"]
    display = photo.renditions.order_by("-width").first()  # the largest, whatever its name
    largest = {
        f"http://testserver{r.file.url}" for r in photo.renditions.filter(width=display.width)
    }
    assert card["og:image"] in largest
    assert (int(card["og:image:width"]), int(card["og:image:height"])) == (
        display.width,
        display.height,
    )
    assert card["og:image:alt"]
    assert card["twitter:card"] == "summary_large_image"
    assert card["twitter:image"] == card["og:image"]
    assert card["twitter:title"] == card["og:title"]


def test_a_hidden_photo_shows_staff_no_card(admin_client, library):
    photo = library["noir"][1]
    set_published(Photo.objects.filter(pk=photo.pk), False)
    html = admin_client.get(photo.get_absolute_url()).content.decode()
    card = meta(html)
    assert card["robots"] == "noindex, nofollow"
    assert not [key for key in card if key.startswith(("og:", "twitter:"))]


def test_an_album_page_has_a_card_with_its_cover(client, library):
    album = library["albums"]["warm"]
    html = client.get(album.get_absolute_url()).content.decode()
    card = meta(html)
    assert card["og:type"] == "website"
    assert card["og:title"] == album.name
    assert card["og:url"] == f"http://testserver{album.get_absolute_url()}"
    warm_images = {
        f"http://testserver{r.file.url}" for p in library["warm"] for r in p.renditions.all()
    }
    assert card["og:image"] in warm_images
    assert card["twitter:card"] == "summary_large_image"


# --- sitemap.xml and robots.txt ----------------------------------------------------------------


def sitemap_urls(client) -> list[str]:
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    return [loc.text for loc in root.findall("s:url/s:loc", SITEMAP_NS)]


def test_sitemap_lists_what_visitors_see_and_nothing_else(client, library, ingest):
    hidden = library["noir"][2]
    set_published(Photo.objects.filter(pk=hidden.pk), False)
    failed = library["noir"][3]
    Photo.objects.filter(pk=failed.pk).update(status=Photo.Status.FAILED)

    urls = sitemap_urls(client)
    assert all(url.startswith("http://testserver/") for url in urls)
    for photo in (*library["noir"][:2], *library["warm"]):
        assert f"http://testserver{photo.get_absolute_url()}" in urls
    for photo in (hidden, failed):
        assert f"http://testserver{photo.get_absolute_url()}" not in urls
    for album in library["albums"].values():
        assert f"http://testserver{album.get_absolute_url()}" in urls
    for name in ("gallery:index", "gallery:albums", "gallery:find_similar"):
        assert f"http://testserver{reverse(name)}" in urls


def test_sitemap_queries_do_not_grow_with_photos(
    client, library, ingest, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8) as few:
        before = len(sitemap_urls(client))
    for i in range(4, 20):  # three times the photos
        ingest(jpeg_file(styled(i, "noir"), f"more-{i}.jpg"), title=f"more {i}")
    with django_assert_max_num_queries(len(few)):
        after = len(sitemap_urls(client))
    assert after == before + 16


def test_robots_points_at_the_sitemap_and_keeps_crawlers_out_of_admin_and_api(client, db):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /admin/" in lines and "Disallow: /api/" in lines
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    assert not re.search(r"<|&lt;", response.content.decode())  # plain text, not HTML
