"""The demo gallery source and `python manage.py demo`."""

from __future__ import annotations

import hashlib
import io
import re
from importlib import resources
from itertools import product
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from PIL import Image

from photos import demo_gallery
from photos.demo_gallery import (
    DEMO_LOOKS,
    DemoPhoto,
    available_sources,
    demo_order,
    demo_photo_count,
    iter_demo_photos,
    render,
)
from photos.models import Photo


@pytest.fixture(scope="module")
def demo_photos() -> list[DemoPhoto]:
    return list(iter_demo_photos())


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", *args, "--no-input", stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- the gallery source ------------------------------------------------------------------------


def test_demo_gallery_is_every_source_in_every_look(demo_photos):
    sources = [source.key for source in available_sources()]
    assert len(demo_photos) >= 40
    assert len(demo_photos) == demo_photo_count() == len(sources) * len(DEMO_LOOKS)
    assert {(p.source, p.look) for p in demo_photos} == set(product(sources, DEMO_LOOKS))
    assert len({hashlib.sha256(p.data).hexdigest() for p in demo_photos}) == len(demo_photos)
    assert len({p.filename for p in demo_photos}) == len(demo_photos)


def test_demo_photos_are_named_jpegs_no_larger_than_their_source(demo_photos):
    sizes = {source.key: demo_gallery.load_source(source).size for source in available_sources()}
    for demo in demo_photos:
        assert demo.filename == f"{demo.source}-{demo.look.replace('_', '-')}.jpg"
        assert " — " in demo.title
        assert demo.description
        with Image.open(io.BytesIO(demo.data)) as image:
            assert image.format == "JPEG"
            assert image.mode == "RGB"
            assert image.size == sizes[demo.source]
    coffee_sepia = next(p for p in demo_photos if (p.source, p.look) == ("coffee", "sepia"))
    assert coffee_sepia.filename == "coffee-sepia.jpg"
    assert coffee_sepia.title == "Coffee — sepia"


def test_demo_photos_are_deterministic(demo_photos):
    by_key = {(p.source, p.look): p for p in demo_photos}
    source = available_sources()[0]
    for look in DEMO_LOOKS[:3]:
        assert render(source, look).data == by_key[(source.key, look)].data


def test_demo_order_mixes_subjects_and_looks_in_every_run_of_photos():
    order = demo_order(8, 5)
    assert sorted(order) == sorted(product(range(8), range(5)))  # every pair, once
    for start in range(len(order) - 8 + 1):
        window = order[start : start + 8]
        assert len({source for source, _ in window}) == 8
        assert len({look for _, look in window}) >= 2
    # more looks than sources still gives every pair
    assert sorted(demo_order(3, 7)) == sorted(product(range(3), range(7)))


def test_demo_sources_are_read_from_the_installed_packages():
    sources = available_sources()
    assert {source.package for source in sources} == {"skimage", "sklearn"}
    for source in sources:
        package_dir = Path(str(resources.files(source.package)))
        assert source.location().is_file()
        assert source.location().is_relative_to(package_dir)


# --- the command --------------------------------------------------------------------------------


@pytest.fixture
def demo_env(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_USER", "photographer")
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "a-long-demo-passphrase")
    monkeypatch.setenv("PORT", "8123")


def signed_in_as(username: str, password: str):
    """The user the admin's sign-in form lets in with these credentials, or None (a real POST:
    django-axes wants the request that every sign-in has)."""
    client = Client()
    data = {"username": username, "password": password, "next": "/admin/"}
    if client.post(reverse("admin:login"), data).status_code != 302:
        return None
    return get_user_model().objects.get(pk=client.session["_auth_user_id"])


def test_demo_command_builds_the_site_and_is_idempotent(transactional_db, demo_env, client, caplog):
    output = run_demo()
    # Quiet where nothing is wrong: no broker warning without a broker, no line per task.
    assert not [r for r in caplog.records if r.name.startswith(("kombu", "celery"))]

    user = get_user_model().objects.get(username="photographer")
    assert user.is_staff and user.is_superuser and user.is_active
    assert signed_in_as("photographer", "a-long-demo-passphrase") == user

    expected = demo_photo_count()
    assert expected >= 40
    assert Photo.objects.count() == expected
    assert Photo.objects.filter(status=Photo.Status.READY).count() == expected
    assert f"{expected} imported, 0 already present, 0 rejected" in output
    assert "http://127.0.0.1:8123/" in output
    assert "http://127.0.0.1:8123/admin/" in output
    photo = Photo.objects.get(original_filename="coffee-sepia.jpg")
    assert photo.title == "Coffee — sepia"
    assert photo.renditions.count() > 0
    # Not a terminal: progress comes as whole lines, not a redrawn bar.
    assert f"Importing the demo gallery: {expected} photos…\n" in output
    assert f"  {expected}/{expected} photos imported\n" in output
    assert "\r" not in output
    assert "make serve" in output

    # The first gallery page mixes subjects (and looks) instead of one subject in every look.
    page = client.get(reverse("gallery:index"))
    shown = [
        Photo.objects.get(pk=pk)
        for pk in re.findall(r'href="/photos/(\d+)/"', page.content.decode())
    ]
    assert len(shown) >= 12
    subjects = {photo.original_filename.split("-", 1)[0] for photo in shown}
    looks = {photo.original_filename.split("-", 1)[1] for photo in shown}
    assert len(subjects) >= 6 and len(looks) >= 3

    again = run_demo()
    assert Photo.objects.count() == expected
    assert f"0 imported, {expected} already present, 0 rejected" in again
    assert f"Library: {expected} photos" in again
    assert "password set from DEMO_ADMIN_PASSWORD" in again


def test_new_admin_without_password_gets_a_random_one(transactional_db, monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_USER", raising=False)
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    output = run_demo("--no-photos")

    password = re.search(r"Password: (\S+)", output).group(1)
    assert len(password) >= 12
    user = signed_in_as("admin", password)
    assert user is not None and user.is_staff
    assert "http://127.0.0.1:8000/admin/" in output
    assert not Photo.objects.exists()

    # A second run without a password leaves it alone and says so.
    again = run_demo("--no-photos")
    assert "left unchanged" in again
    assert password not in again
    assert signed_in_as("admin", password) is not None


def test_existing_user_is_promoted_and_gets_the_given_password(transactional_db, demo_env):
    get_user_model().objects.create_user("photographer", password="old-password-123")
    run_demo("--no-photos")
    user = get_user_model().objects.get(username="photographer")
    assert user.is_staff and user.is_superuser
    assert signed_in_as("photographer", "a-long-demo-passphrase") == user


def test_limit_imports_only_the_first_photos(transactional_db, demo_env):
    output = run_demo("--limit", "3")
    assert Photo.objects.count() == 3
    assert "3 imported, 0 already present, 0 rejected" in output


def test_demo_fails_when_nothing_can_be_imported(transactional_db, demo_env, monkeypatch):
    broken = DemoPhoto("broken.jpg", "Broken", "", b"not an image", "original", "broken")
    monkeypatch.setattr("photos.management.commands.demo.iter_demo_photos", lambda: iter([broken]))
    monkeypatch.setattr("photos.management.commands.demo.demo_photo_count", lambda: 1)
    with pytest.raises(CommandError, match="No demo photo could be imported"):
        run_demo()
    assert not Photo.objects.exists()
    # The admin user was still set up.
    assert get_user_model().objects.filter(username="photographer").exists()


def test_serve_opens_every_kind_of_page_then_serves(transactional_db, demo_env, monkeypatch):
    served = []
    real_call_command = call_command

    def record_runserver(name, *args, **kwargs):
        if name == "runserver":
            served.append((args, kwargs))
            return None
        return real_call_command(name, *args, **kwargs)

    monkeypatch.setattr("photos.management.commands.demo.call_command", record_runserver)
    output = run_demo("--limit", "6", "--serve")

    assert served == [(("127.0.0.1:8123",), {"use_reloader": False})]
    assert "Opening each kind of page once" in output
    assert "answered" not in output  # every page (and the query upload) answered 200
    assert "Serving the demo at http://127.0.0.1:8123/" in output
    assert output.index("done in") < output.index("Serving the demo")
