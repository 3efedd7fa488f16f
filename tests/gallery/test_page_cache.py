"""Photo pages are rendered once per photo and A/B variant and filled in per visitor
(gallery/page_cache.py), and any change of the library shows at once."""

from __future__ import annotations

import pytest
from django.test import Client

from experiments import tokens, visitors
from experiments.events import PAGE_VIEW_SALT
from experiments.models import Experiment, Variant
from gallery import page_cache
from photos.models import Photo
from photos.services import set_published
from recommender.services import recluster
from tests.gallery.test_ab_views import BROWSER_UA, shown_items, similar_section
from tests.helpers.images import image_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def library(ingest) -> list[Photo]:
    photos = [
        ingest(image_file(f"c{i}.jpg", size=(96, 64), seed=i + 11), title=f"Cached {i}")
        for i in range(6)
    ]
    recluster()
    return photos


def visitor(**extra) -> Client:
    return Client(headers={"user-agent": BROWSER_UA}, **extra)


def page(client: Client, photo: Photo) -> str:
    response = client.get(photo.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def visitor_of(client: Client) -> str:
    return visitors.unsigned(client.cookies[visitors.VISITOR_COOKIE].value)


def page_view_of(html: str) -> dict:
    import re

    from django.core import signing

    value = re.search(r'data-page-view="([^"]+)"', html).group(1)
    return signing.loads(value, salt=PAGE_VIEW_SALT)


def test_a_second_visitor_gets_the_cached_page_with_their_own_tokens(
    library, django_assert_max_num_queries
):
    photo = library[0]
    first, second = visitor(), visitor()
    with django_assert_max_num_queries(12):  # rendered: photo, renditions, neighbours, lists
        html_first = page(first, photo)
    with django_assert_max_num_queries(1):  # cached: only the running experiment is looked up
        html_second = page(second, photo)

    for client, html in ((first, html_first), (second, html_second)):
        section = similar_section(html)
        token = tokens.read_token(section["data-impression"])
        assert token["v"] == visitor_of(client)  # bound to this visitor, not the first one
        assert [(pid, pos) for pid, pos, _ in token["i"]] == shown_items(html)
        assert page_view_of(html)["v"] == visitor_of(client)
        assert page_cache.placeholder("impression") not in html
        assert page_cache.placeholder("page-view") not in html
    assert shown_items(html_first) == shown_items(html_second)
    assert page_view_of(html_first)["pv"] != page_view_of(html_second)["pv"]
    # Apart from the two signed values the pages are the same page.
    strip = lambda html: html.split('data-variant="', 1)[1].split(">", 1)[1]  # noqa: E731
    assert (
        strip(html_first).split("data-page-view")[0]
        == strip(html_second).split("data-page-view")[0]
    )


def test_an_edit_shows_at_once(library, django_capture_on_commit_callbacks):
    photo = library[1]
    assert "Cached 1" in page(visitor(), photo)
    photo.title = "Renamed at the desk"
    with django_capture_on_commit_callbacks(execute=True):
        photo.save()
    html = page(visitor(), photo)
    assert "Renamed at the desk" in html and "Cached 1" not in html
    # ... in the other photos' strips too, where it is listed.
    elsewhere = [
        p for p in library if photo.pk in [pid for pid, _ in shown_items(page(visitor(), p))]
    ]
    for other in elsewhere:
        assert "Renamed at the desk" in page(visitor(), other)


def test_a_hidden_photo_is_gone_from_the_cache_too(library, django_capture_on_commit_callbacks):
    photo = library[2]
    page(visitor(), photo)
    with django_capture_on_commit_callbacks(execute=True):
        set_published([photo], False)
    assert visitor().get(photo.get_absolute_url()).status_code == 404


def test_staff_pages_are_not_cached_nor_served_from_the_cache(library, admin_client):
    photo = library[3]
    admin_client.get(photo.get_absolute_url())  # staff first: their page has the admin link
    html = page(visitor(), photo)
    assert "Manage the library" not in html
    page(visitor(), photo)  # now cached for visitors
    assert "Manage the library" in admin_client.get(photo.get_absolute_url()).content.decode()


def test_each_variant_and_host_has_its_own_page(library):
    experiment = Experiment.objects.create(name="Cache", is_active=True)
    Variant.objects.create(experiment=experiment, name="knn", strategy="style_knn", weight=1)
    Variant.objects.create(experiment=experiment, name="off", strategy="none", weight=1)
    photo = library[4]
    seen = {}
    for _ in range(12):
        html = page(visitor(), photo)
        section = similar_section(html)
        seen[section["data-variant"] if section else "off"] = html
    assert set(seen) == {"knn", "off"}
    assert similar_section(seen["knn"]) is not None and similar_section(seen["off"]) is None
    other_host = page(visitor(HTTP_HOST="127.0.0.1"), photo)
    assert 'href="http://127.0.0.1/photos/' in other_host  # its own absolute URLs
    assert 'href="http://testserver/photos/' not in other_host


def test_the_random_variant_is_drawn_for_every_page_view(library, settings):
    settings.STYLEFINDER_AB_VARIANT = "random"
    photo = library[5]
    lists = {tuple(shown_items(page(visitor(), photo))) for _ in range(8)}
    assert len(lists) > 1


def test_no_cache_with_zero_seconds(library, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.STYLEFINDER_PAGE_CACHE_SECONDS = 0
    photo = library[0]
    page(visitor(), photo)
    with CaptureQueriesContext(connection) as queries:
        page(visitor(), photo)
    assert len(queries) > 5  # rendered again, photo, renditions, neighbours and all


def test_a_page_with_a_form_token_is_never_kept(library):
    """Should the photo page ever get a form, its CSRF token is the visitor's own."""
    from django.test import RequestFactory

    from experiments.assignment import Assignment

    request = RequestFactory().get("/")
    key = page_cache.key(request, "photo", library[0].pk, Assignment(None, "v", "style_knn"))
    html = '<form><input type="hidden" name="csrfmiddlewaretoken" value="secret"></form>'
    page_cache.put(key, page_cache.CachedPage(html, ()))
    assert page_cache.get(key) is None
    page_cache.put(key, page_cache.CachedPage("<p>no form</p>", ()))
    assert page_cache.get(key).html == "<p>no form</p>"
