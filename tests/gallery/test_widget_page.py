"""/widget/: the embeddable widget's documentation, live example and snippet generator."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import rjsmin

from photos.models import Photo
from tests.helpers.images import image_file

PAGE = "/widget/"
SCRIPT_URL = "http://testserver/static/widget/stylefinder-widget.js"


@pytest.fixture
def photos(ingest) -> list[Photo]:
    made = [ingest(image_file(f"e{i}.jpg", seed=i + 1), title=f"Embed {i}") for i in range(3)]
    assert all(p.status == Photo.Status.READY for p in made)
    return made


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_page_documents_the_widget(client, photos):
    response = client.get(PAGE)
    assert response.status_code == 200
    page = text(response)
    # The two tags, with the absolute script URL, and every option.
    assert f'<script src="{SCRIPT_URL}" defer></script>' in page
    for attribute in (
        "data-stylefinder-photo",
        "data-count",
        "data-link",
        "data-title",
        "data-api",
    ):
        assert attribute in page
    # What the gallery and the other site must set.
    assert "STYLEFINDER_WIDGET_ORIGINS" in page
    for directive in (
        "script-src http://testserver",
        "connect-src http://testserver",
        "img-src http://testserver",
    ):
        assert directive in page
    assert "localStorage" in page
    # The live example: the widget itself for the newest photo, and its script.
    newest = photos[-1]
    assert f'data-stylefinder-photo="{newest.pk}"' in response.content.decode()
    assert 'src="/static/widget/stylefinder-widget.js"' in page
    # No inline script: the site is moving to a strict CSP.
    assert "<script>" not in page and "onclick" not in page
    # A sample snippet, and the generator offering the public photos.
    assert f'data-stylefinder-photo="{newest.pk}" data-count="6"></div>' in page
    for photo in photos:
        assert f'<option value="{photo.pk}"' in page


def test_generator_makes_the_snippet_for_a_chosen_photo(client, photos, settings):
    settings.STYLEFINDER_WIDGET_ORIGINS = ["https://my-site.example"]
    photo = photos[0]
    response = client.get(
        PAGE,
        {
            "photo": photo.pk,
            "count": "4",
            "link": "https://my-site.example/photos/{id}?from=sf&x=1",
            "title": "More like this",
        },
    )
    assert response.status_code == 200
    page = text(response)
    snippet = (
        f'<script src="{SCRIPT_URL}" defer></script>\n'
        f'<div data-stylefinder-photo="{photo.pk}" data-count="4" '
        'data-link="https://my-site.example/photos/{id}?from=sf&amp;x=1" '
        'data-title="More like this"></div>'
    )
    assert snippet in page
    assert "Paste this into your page" in page
    assert f'<option value="{photo.pk}" selected>' in page
    # The live example shows the same widget.
    raw = response.content.decode()
    assert f'data-stylefinder-photo="{photo.pk}" data-count="4"' in raw


def test_embed_this_link_from_the_photo_page(client, photos):
    photo = photos[1]
    page = client.get(photo.get_absolute_url()).content.decode()
    link = f"/widget/?photo={photo.pk}#generator"
    assert f'href="{link}"' in page
    response = client.get(link.split("#")[0])
    assert response.status_code == 200
    assert f'data-stylefinder-photo="{photo.pk}" data-count="6"></div>' in text(response)
    assert "data-title" not in text(response).split("Paste this")[1]  # the default heading


def test_footer_links_to_the_page(client, photos):
    assert 'href="/widget/"' in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"photo": "999999"}, "There is no public photo number 999999"),
        ({"photo": "abc"}, "A photo is chosen by its number"),
        ({"count": "3"}, "Choose a photo."),
    ],
)
def test_bad_photo_is_a_clear_message_not_a_500(client, photos, params, message):
    response = client.get(PAGE, params)
    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert "No snippet yet" in page
    assert "Paste this into your page" not in page


def test_hidden_photo_cannot_be_embedded(client, photos):
    Photo.objects.filter(pk=photos[0].pk).update(published=False)
    response = client.get(PAGE, {"photo": photos[0].pk})
    assert response.status_code == 400
    assert f"There is no public photo number {photos[0].pk}" in text(response)


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("https://my-site.example/photos/", "Put {id} where the photo's id goes"),
        ("javascript:alert(1)//{id}", "Give a full http(s) address"),
        ("my-site/{id}", "Give a full http(s) address"),
    ],
)
def test_bad_link_patterns_are_explained(client, photos, link, message):
    response = client.get(PAGE, {"photo": photos[0].pk, "link": link})
    assert response.status_code == 400
    assert message in text(response)


def test_links_to_sites_not_allowed_to_embed_are_refused(client, photos, settings):
    """A crafted /widget/?link=... must not make the gallery's own live example link elsewhere."""
    settings.STYLEFINDER_WIDGET_ORIGINS = ["https://my-site.example"]
    response = client.get(PAGE, {"photo": photos[0].pk, "link": "https://other.example/{id}"})
    assert response.status_code == 400
    page = text(response)
    assert "STYLEFINDER_WIDGET_ORIGINS: http://testserver, https://my-site.example" in page
    assert 'data-link="https://other.example' not in response.content.decode()
    allowed = client.get(PAGE, {"photo": photos[0].pk, "link": "https://MY-site.example/p/{id}"})
    assert allowed.status_code == 200


def test_a_relative_link_pattern_and_no_heading(client, photos):
    response = client.get(PAGE, {"photo": photos[0].pk, "link": "/photos/{id}/", "title": ""})
    assert response.status_code == 200
    assert 'data-link="/photos/{id}/" data-title=""></div>' in text(response)


@pytest.mark.parametrize("count", ["0", "25", "x"])
def test_count_bounds(client, photos, count):
    response = client.get(PAGE, {"photo": photos[0].pk, "count": count})
    assert response.status_code == 400


def test_the_page_works_with_an_empty_gallery(client, db):
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "once the gallery has public photos" in text(response)


def test_staff_see_the_allowed_origins(admin_client, photos, settings):
    settings.STYLEFINDER_WIDGET_ORIGINS = ["https://my-site.example"]
    page = text(admin_client.get(PAGE))
    assert "Allowed now: <code>https://my-site.example</code>" in page


def test_widget_script_is_under_10_kb_minified():
    source = Path(__file__).resolve().parents[2] / "static" / "widget" / "stylefinder-widget.js"
    minified = rjsmin.jsmin(source.read_text(encoding="utf-8"))
    assert len(minified.encode()) < 10_240, len(minified.encode())
