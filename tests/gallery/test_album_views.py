"""The public album pages (/albums/, /albums/<id>/), "Albums in this style" under the results of
"find photos like yours", and the album link on the photo page."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse

from photos.models import Photo
from photos.services import set_published
from recommender.models import Album, Cluster, ClusterRun, Membership
from recommender.services import recluster
from tests.helpers.albums import build_albums
from tests.helpers.html import assert_self_contained, section, start_tags, tags
from tests.helpers.images import jpeg_file, styled

pytestmark = pytest.mark.django_db

ALBUMS = reverse("gallery:albums")
FIND_SIMILAR = reverse("gallery:find_similar")


@pytest.fixture
def library(ingest) -> dict:
    """Five noir and five warm photos, indexed; the active run has a noir and a warm album."""
    photos: dict = {"noir": [], "warm": []}
    for i in range(5):
        for style in ("noir", "warm"):
            photo = ingest(jpeg_file(styled(i, style), f"{style}-{i}.jpg"), title=f"{style} {i}")
            assert photo.status == Photo.Status.READY, photo.error
            photos[style].append(photo)
    run = recluster().run
    assert run is not None
    photos["run"] = run
    photos["albums"] = build_albums(run, {"noir": photos["noir"], "warm": photos["warm"]})
    return photos


def album_links(html: str) -> list[dict[str, str | None]]:
    return [a for a in tags(html, "a") if a.get("data-album")]


def grid_photo_ids(html: str) -> list[int]:
    grid = section(html, '<ul class="photo-grid"', "</ul>")
    return [int(pk) for pk in re.findall(r'id="photo-(\d+)"', grid)]


def text(fragment: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


# --- navigation and empty states --------------------------------------------------------------


def test_header_links_to_the_albums(client):
    html = client.get(reverse("gallery:index")).content.decode()
    assert f'<a href="{ALBUMS}">Albums</a>' in html
    html = client.get(ALBUMS).content.decode()
    assert f'<a href="{ALBUMS}" aria-current="page">Albums</a>' in html


def test_albums_before_the_library_is_analysed(client):
    response = client.get(ALBUMS)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Albums appear once the library has been analysed" in html
    assert album_links(html) == []
    assert response.context["analysed"] is False


def test_albums_of_a_run_without_clusters(client, ingest):
    for i in range(3):
        ingest(jpeg_file(styled(i, "noir"), f"n{i}.jpg"))
    run = recluster().run
    Cluster.objects.filter(run=run).delete()  # an index without albums
    html = client.get(ALBUMS).content.decode()
    assert "Albums appear once the library has been analysed" in html
    assert album_links(html) == []


# --- the album list ------------------------------------------------------------------------------


def test_albums_list_shows_the_visible_albums(client, library, django_assert_max_num_queries):
    noir, warm = library["albums"]["noir"], library["albums"]["warm"]
    with django_assert_max_num_queries(3):  # active run, clusters with counts, cover thumbnails
        response = client.get(ALBUMS)
    assert response.status_code == 200
    html = response.content.decode()
    links = album_links(html)
    assert {int(a["data-album"]) for a in links} == {noir.pk, warm.pk}
    for link in links:
        album = Album.objects.get(pk=link["data-album"])
        assert link["href"] == album.get_absolute_url() == f"/albums/{album.pk}/"
    assert noir.name.startswith("Black & white") and noir.name in text(html)
    assert warm.name.startswith("Warm") and warm.name in text(html)
    assert text(html).count("5 photographs") == 2
    # Covers: the thumbnail of each cluster's cover photo.
    covers = [img for img in tags(html, "img") if img.get("loading") == "lazy"]
    expected = {
        Cluster.objects.get(run=library["run"], album=album).cover.rendition("thumb").file.url
        for album in (noir, warm)
    }
    assert {img["src"] for img in covers} == expected
    assert all(img["width"] and img["height"] for img in covers)
    _assert_no_inline_code(html)


def test_hidden_albums_are_not_listed(client, library):
    noir, warm = library["albums"]["noir"], library["albums"]["warm"]
    Album.objects.filter(pk=warm.pk).update(hidden=True)
    Album.objects.filter(pk=noir.pk).update(title="Nocturnes")
    html = client.get(ALBUMS).content.decode()
    assert [int(a["data-album"]) for a in album_links(html)] == [noir.pk]
    assert "Nocturnes" in html
    assert warm.name not in text(html)


def test_unpublished_photos_are_not_counted(client, library):
    set_published(library["warm"][:2], False)
    html = client.get(ALBUMS).content.decode()
    assert "3 photographs" in text(html)


# --- one album -----------------------------------------------------------------------------------


def test_album_page_lists_its_photos_nearest_the_centre_first(
    client, library, django_assert_max_num_queries
):
    noir = library["albums"]["noir"]
    with django_assert_max_num_queries(4):  # cluster + album, count, memberships, renditions
        response = client.get(noir.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    expected = list(
        Membership.objects.filter(run=library["run"], cluster__album=noir)
        .order_by("distance", "photo_id")
        .values_list("photo_id", flat=True)
    )
    assert grid_photo_ids(html) == expected
    assert set(expected) == {p.pk for p in library["noir"]}
    assert text(section(html, "<h1>", "</h1>")) == noir.name
    # "low-key" is never broken across lines: each part of the name is kept whole.
    assert '<span class="nobreak">low-key</span>' in section(html, "<h1>", "</h1>")
    # The automatic name already says what the attributes would.
    assert "album__attributes" not in html
    assert "5 photographs" in text(html)
    assert f'href="{ALBUMS}"' in html  # back to all albums
    assert f'<a href="{ALBUMS}" aria-current="true">Albums</a>' in html
    grid = section(html, '<ul class="photo-grid"', "</ul>")
    for img in tags(grid, "img"):
        assert img["srcset"] and img["sizes"] and img["loading"] == "lazy"
    assert 'class="photo-grid__item r-' in grid  # the justified rows of the gallery
    _assert_no_inline_code(html)


def test_album_page_under_a_title_of_its_own_lists_the_style(client, library):
    noir = library["albums"]["noir"]
    Album.objects.filter(pk=noir.pk).update(title="Nocturnes")
    html = client.get(noir.get_absolute_url()).content.decode()
    assert text(section(html, "<h1>", "</h1>")) == "Nocturnes"
    attributes = section(html, '<ul class="album__attributes"', "</ul>")
    chips = [text(chip) for chip in re.findall(r"<li>(.*?)</li>", attributes)]
    assert chips[:2] == ["Black & white", "Low-key"]
    assert chips == [a[:1].upper() + a[1:] for a in Cluster.objects.get(album=noir).attributes]


def test_album_page_is_paginated(client, library, settings):
    settings.STYLEFINDER_GALLERY_PAGE_SIZE = 2
    warm = library["albums"]["warm"]
    url = warm.get_absolute_url()
    pages = [grid_photo_ids(client.get(url, {"page": n}).content.decode()) for n in (1, 2, 3)]
    assert [len(ids) for ids in pages] == [2, 2, 1]
    assert sum(pages, []) == list(
        Membership.objects.filter(cluster__album=warm)
        .order_by("distance", "photo_id")
        .values_list("photo_id", flat=True)
    )
    html = client.get(url, {"page": 2}).content.decode()
    assert 'rel="prev" href="?page=1"' in html and 'rel="next" href="?page=3"' in html
    assert "page 2 of 3" in html
    assert client.get(url, {"page": 4}).status_code == 404
    assert client.get(url, {"page": "x"}).status_code == 404


def test_album_page_hides_unpublished_photos(client, library):
    hidden = library["noir"][0]
    set_published([hidden], False)
    html = client.get(library["albums"]["noir"].get_absolute_url()).content.decode()
    assert hidden.pk not in grid_photo_ids(html)
    assert len(grid_photo_ids(html)) == 4


def test_hidden_album_is_not_found(client, library):
    noir = library["albums"]["noir"]
    Album.objects.filter(pk=noir.pk).update(hidden=True)
    assert client.get(noir.get_absolute_url()).status_code == 404


def test_album_outside_the_active_run_is_not_found(client, library):
    gone = Album.objects.create(auto_name="From long ago")
    assert client.get(gone.get_absolute_url()).status_code == 404
    assert client.get(reverse("gallery:album", args=[99_999])).status_code == 404
    # A new active run without the album: its page is gone too.
    noir = library["albums"]["noir"]
    ClusterRun.objects.filter(pk=library["run"].pk).update(is_active=False)
    assert client.get(noir.get_absolute_url()).status_code == 404
    assert album_links(client.get(ALBUMS).content.decode()) == []


def test_album_pages_only_answer_reads(client, library):
    url = library["albums"]["noir"].get_absolute_url()
    assert client.post(url).status_code == 405
    assert client.post(ALBUMS).status_code == 405


# --- the photo page's album link ---------------------------------------------------------------


def test_photo_page_links_to_its_album(client, library, django_assert_max_num_queries):
    photo = library["warm"][1]
    warm = library["albums"]["warm"]
    client.get(photo.get_absolute_url())
    with django_assert_max_num_queries(10):  # as before (+ the running experiment, + same scene)
        response = client.get(photo.get_absolute_url())
    html = response.content.decode()
    link = section(html, '<p class="photo-info__album"', "</p>")
    assert f'href="{warm.get_absolute_url()}"' in link
    assert text(link) == f"Album: {warm.name}"

    warm.hidden = True
    warm.save()  # as the admin's list does
    assert "photo-info__album" not in client.get(photo.get_absolute_url()).content.decode()


# --- find photos like yours: albums in this style ------------------------------------------------


@pytest.mark.parametrize("style", ["noir", "warm"])
def test_upload_results_suggest_albums_of_its_style(client, library, style):
    upload = jpeg_file(styled(70, style), f"mine-{style}.jpg")
    response = client.post(FIND_SIMILAR, {"image": upload})
    assert response.status_code == 200
    html = response.content.decode()
    albums_html = section(html, '<section class="finder__albums"')
    assert "Albums in this style" in albums_html
    assert html.index("finder__results") < html.index("finder__albums")
    links = album_links(albums_html)
    # The album of its style; the other one, of the opposite style, is not suggested.
    assert [int(a["data-album"]) for a in links] == [library["albums"][style].pk]
    (cover,) = tags(albums_html, "img")
    assert cover["src"].startswith("/media/")
    scores = [card.score for card in response.context["albums"]]
    assert scores and all(score > 0 for score in scores)
    assert library["albums"][style].name in text(albums_html)
    assert_self_contained(html)


def test_upload_results_suggest_up_to_three_albums(client, library, monkeypatch):
    from gallery import selectors

    monkeypatch.setattr(selectors, "MIN_ALBUM_SCORE", -1.0)  # every album counts as near
    response = client.post(FIND_SIMILAR, {"image": jpeg_file(styled(74, "warm"), "w.jpg")})
    links = album_links(section(response.content.decode(), '<section class="finder__albums"'))
    assert [int(a["data-album"]) for a in links] == [
        library["albums"]["warm"].pk,
        library["albums"]["noir"].pk,
    ]


def test_upload_results_skip_hidden_albums(client, library, monkeypatch):
    from gallery import selectors

    monkeypatch.setattr(selectors, "MIN_ALBUM_SCORE", -1.0)
    Album.objects.filter(pk=library["albums"]["noir"].pk).update(hidden=True)
    response = client.post(FIND_SIMILAR, {"image": jpeg_file(styled(71, "noir"), "n.jpg")})
    links = album_links(section(response.content.decode(), '<section class="finder__albums"'))
    assert [int(a["data-album"]) for a in links] == [library["albums"]["warm"].pk]


def test_no_album_section_without_albums(client, library):
    Album.objects.update(hidden=True)
    response = client.post(FIND_SIMILAR, {"image": jpeg_file(styled(72, "noir"), "n.jpg")})
    assert response.status_code == 200
    assert "finder__albums" not in response.content.decode()
    assert "finder__results" in response.content.decode()


def test_a_failing_album_lookup_leaves_the_results(client, library, monkeypatch):
    from gallery import views

    def broken(*args, **kwargs):
        raise RuntimeError("no centroids")

    monkeypatch.setattr(views.selectors, "albums_like_upload", broken)
    response = client.post(FIND_SIMILAR, {"image": jpeg_file(styled(73, "warm"), "w.jpg")})
    assert response.status_code == 200
    html = response.content.decode()
    assert "finder__results" in html and "finder__albums" not in html


# --- helpers -------------------------------------------------------------------------------------


def _assert_no_inline_code(html: str) -> None:
    """No inline scripts, styles or handlers (a strict CSP comes later); nothing off-site."""
    pairs = start_tags(html)
    assert not [tag for tag, _ in pairs if tag == "style"]
    for tag, attrs in pairs:
        assert "style" not in attrs and not any(key.startswith("on") for key in attrs), attrs
        if tag == "script":
            assert attrs.get("src") and "defer" in attrs, attrs
        for key in ("src", "href", "srcset"):
            value = attrs.get(key) or ""
            if attrs.get("rel") != "canonical":
                assert not value.startswith(("http:", "https:", "//")), (key, value)
