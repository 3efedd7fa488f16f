"""Admin sign-in throttling (django-axes): an address that fails too often is paused, whatever
X-Forwarded-For it sends; the right password does not get through during the pause; failures
are visible in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

LOGIN = reverse("admin:login")
PASSWORD = "a-long-right-passphrase"


@pytest.fixture
def photographer(db):
    return get_user_model().objects.create_superuser("photographer", "p@example.com", PASSWORD)


def sign_in(client, password, **extra):
    data = {"username": "photographer", "password": password, "next": "/admin/"}
    return client.post(LOGIN, data, **extra)


def test_thirty_wrong_passwords_then_the_right_one_is_refused(client, photographer, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    codes = [
        sign_in(client, f"guess-{i}", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(30)
    ]
    assert codes[:4] == [200] * 4  # the form again, with Django's "enter a correct ..." error
    assert set(codes[5:]) == {429}
    refused = sign_in(client, PASSWORD)
    assert refused.status_code == 429
    assert 60 <= int(refused["Retry-After"]) <= 3600
    page = refused.content.decode()
    assert "Too many failed sign-ins" in page and "paused for 15 minutes" in page
    assert "_auth_user_id" not in client.session
    # Another address is not paused: the photographer can still sign in from home.
    elsewhere = sign_in(client, PASSWORD, REMOTE_ADDR="10.20.30.40")
    assert elsewhere.status_code == 302 and elsewhere["Location"] == "/admin/"


def test_a_success_resets_the_count(client, photographer):
    for i in range(4):
        assert sign_in(client, f"typo-{i}").status_code == 200
    assert sign_in(client, PASSWORD).status_code == 302
    client.logout()
    for i in range(4):
        assert sign_in(client, f"typo-again-{i}").status_code == 200  # a fresh allowance


def test_failed_sign_ins_are_listed_in_the_admin(client, admin_client, photographer):
    for i in range(6):
        sign_in(client, f"guess-{i}")
    page = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "photographer" in text and "127.0.0.1" in text
