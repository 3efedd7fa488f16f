"""GET /api/photos/{id}/similar/ is answered from the cache for anonymous callers of one
variant (api/answer_cache.py) until the library changes."""

from __future__ import annotations

import pytest
from django.test import Client

from photos.services import set_published
from tests.api.test_similar_api import jpeg_upload, scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def gallery(ingest, settle):
    photos = [ingest(jpeg_upload(scene(i, "warm"), f"a{i}.jpg")) for i in range(6)]
    settle()
    return photos


def similar(client, photo, query: str = "") -> dict:
    response = client.get(f"/api/photos/{photo.pk}/similar/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_second_call_is_answered_from_the_cache(gallery, django_assert_max_num_queries):
    photo = gallery[0]
    first = similar(Client(), photo, "?k=3")
    with django_assert_max_num_queries(2):  # the running experiment, the modes on offer
        second = similar(Client(), photo, "?k=3")
    assert second == first
    look = similar(Client(), photo, "?k=3&mode=look")
    with django_assert_max_num_queries(1):  # an explicit mode needs no experiment
        assert similar(Client(), photo, "?k=3&mode=look") == look
    assert len(similar(Client(), photo, "?k=4")["results"]) == 4  # k is part of the key


def test_an_edit_or_a_hidden_photo_shows_at_once(gallery, django_capture_on_commit_callbacks):
    photo, listed = gallery[0], gallery[1]
    assert listed.pk in [item["id"] for item in similar(Client(), photo)["results"]]
    listed.title = "A new title"
    with django_capture_on_commit_callbacks(execute=True):
        listed.save()
    titles = {item["id"]: item["title"] for item in similar(Client(), photo)["results"]}
    assert titles[listed.pk] == "A new title"
    with django_capture_on_commit_callbacks(execute=True):
        set_published([photo], False)
    assert Client().get(f"/api/photos/{photo.pk}/similar/").status_code == 404


def test_staff_answers_are_neither_cached_nor_served_from_the_cache(
    gallery, staff_api, django_capture_on_commit_callbacks
):
    hidden = gallery[2]
    with django_capture_on_commit_callbacks(execute=True):
        set_published([hidden], False)
    assert staff_api.get(f"/api/photos/{hidden.pk}/similar/").status_code == 200
    assert Client().get(f"/api/photos/{hidden.pk}/similar/").status_code == 404


def test_the_random_strategy_is_drawn_every_time(gallery, settings):
    settings.STYLEFINDER_AB_VARIANT = "random"
    photo = gallery[3]
    lists = {tuple(i["id"] for i in similar(Client(), photo, "?k=3")["results"]) for _ in range(8)}
    assert len(lists) > 1
