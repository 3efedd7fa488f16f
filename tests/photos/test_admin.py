"""The photo admin: upload page (files and zips), result page, list, change page, actions."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from photos.models import Photo
from tests.helpers.images import image_bytes, image_file, named

pytestmark = pytest.mark.django_db

UPLOAD_URL = "admin:photos_photo_upload"
CHANGELIST_URL = "admin:photos_photo_changelist"


def zip_file(members: dict[str, bytes], name: str = "photos.zip") -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    buffer.seek(0)
    buffer.name = name
    return buffer


@pytest.fixture
def upload(admin_client, django_capture_on_commit_callbacks):
    """POST files to the upload page and run the after-commit processing, as a real request."""

    def _upload(*files, published=True, client=None):
        data = {"files": list(files)}
        if published:
            data["published"] = "on"
        with django_capture_on_commit_callbacks(execute=True):
            response = (client or admin_client).post(reverse(UPLOAD_URL), data)
        return response

    return _upload


@pytest.fixture
def failed_photo(ingest):
    photo = ingest(image_file("broken.jpg", seed=99))
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.FAILED,
        error="OSError: cannot write rendition: disk full on /media/renditions (errno 28)",
    )
    photo.refresh_from_db()
    return photo


# --- Upload page ------------------------------------------------------------------------------
def test_upload_page_has_a_multiple_file_input(admin_client):
    response = admin_client.get(reverse(UPLOAD_URL))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file"' in html
    assert "multiple" in html
    assert 'enctype="multipart/form-data"' in html
    assert "Publish immediately" in html


def test_add_photo_redirects_to_the_upload_page(admin_client):
    response = admin_client.get(reverse("admin:photos_photo_add"))
    assert response.status_code == 302
    assert response.url == reverse(UPLOAD_URL)


def test_upload_two_images_at_once(upload):
    response = upload(image_file("sea.jpg", seed=1), image_file("hills.png", fmt="PNG", seed=2))
    assert response.status_code == 200
    photos = Photo.objects.order_by("original_filename")
    assert [p.original_filename for p in photos] == ["hills.png", "sea.jpg"]
    assert all(p.status == Photo.Status.READY for p in photos), [p.error for p in photos]
    assert all(p.published for p in photos)
    html = response.content.decode()
    assert "Imported (2)" in html
    for photo in photos:
        assert reverse("admin:photos_photo_change", args=[photo.pk]) in html


def test_upload_unpublished(upload):
    upload(image_file("quiet.jpg", seed=3), published=False)
    assert Photo.objects.get().published is False


def test_upload_zip_of_three_images_and_a_text_file(upload):
    archive = zip_file(
        {
            "trip/one.jpg": image_bytes(seed=10),
            "trip/two.jpg": image_bytes(seed=11),
            "three.webp": image_bytes("WEBP", seed=12),
            "trip/notes.txt": b"Remember to credit the model.",
            "__MACOSX/trip/._one.jpg": b"resource fork",
        }
    )
    response = upload(archive)
    assert response.status_code == 200
    assert Photo.objects.count() == 3
    assert set(Photo.objects.values_list("status", flat=True)) == {Photo.Status.READY}
    assert sorted(Photo.objects.values_list("original_filename", flat=True)) == [
        "one.jpg",
        "three.webp",
        "two.jpg",
    ]
    html = response.content.decode()
    assert "Imported (3)" in html
    assert "Rejected (1)" in html
    assert "photos.zip/trip/notes.txt" in html
    assert "not a JPEG, PNG, WebP or TIFF image" in html
    assert "__MACOSX" not in html


def test_bad_files_do_not_stop_the_batch(upload):
    response = upload(
        named(b"", "empty.jpg"),
        named(b"<svg></svg>", "drawing.svg"),
        image_file("good.jpg", seed=4),
        named(b"PK\x03\x04 not really a zip", "broken.zip"),
        named(image_bytes(seed=5)[:200], "truncated.jpg"),
    )
    assert response.status_code == 200
    assert list(Photo.objects.values_list("original_filename", flat=True)) == ["good.jpg"]
    html = response.content.decode()
    assert "Imported (1)" in html
    assert "Rejected (4)" in html
    for name in ("empty.jpg", "drawing.svg", "broken.zip", "truncated.jpg"):
        assert name in html
    assert "The file is empty." in html
    assert "not a readable zip archive" in html


def test_duplicate_is_reported_with_a_link_to_the_existing_photo(upload, ingest):
    existing = ingest(image_file("original.jpg", seed=6), title="The first one")
    response = upload(image_file("copy.jpg", seed=6), image_file("new.jpg", seed=7))
    assert Photo.objects.count() == 2
    html = response.content.decode()
    assert "Imported (1)" in html
    assert "Already in the library (1)" in html
    assert "copy.jpg" in html
    assert "The first one" in html
    assert reverse("admin:photos_photo_change", args=[existing.pk]) in html


def test_upload_without_files_shows_the_form_again(admin_client):
    response = admin_client.post(reverse(UPLOAD_URL), {"published": "on"})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert Photo.objects.count() == 0


def test_upload_is_logged_in_the_admin_history(upload):
    from django.contrib.admin.models import LogEntry

    upload(image_file("logged.jpg", seed=8))
    photo = Photo.objects.get()
    assert LogEntry.objects.filter(object_id=str(photo.pk), action_flag=1).exists()


# --- Permissions ------------------------------------------------------------------------------
def test_anonymous_and_non_staff_are_sent_to_the_login(client, django_user_model):
    response = client.get(reverse(UPLOAD_URL))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url

    user = django_user_model.objects.create_user("visitor", password="pw-not-important")
    client.force_login(user)
    response = client.post(reverse(UPLOAD_URL), {"files": [image_file("x.jpg")]})
    assert response.status_code == 302
    assert reverse("admin:login") in response.url
    assert Photo.objects.count() == 0


def test_staff_without_add_permission_is_refused(client):
    user = User.objects.create_user("editor", password="pw-not-important", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_photo"))
    client.force_login(user)
    assert client.get(reverse(UPLOAD_URL)).status_code == 403
    response = client.post(reverse(UPLOAD_URL), {"files": [image_file("x.jpg")]})
    assert response.status_code == 403
    assert Photo.objects.count() == 0
    changelist = client.get(reverse(CHANGELIST_URL)).content.decode()
    assert reverse(UPLOAD_URL) not in changelist


# --- Change list ------------------------------------------------------------------------------
def test_changelist_shows_thumbnails_and_the_upload_button(admin_client, ingest):
    photo = ingest(image_file("sea.jpg", seed=20, size=(120, 80)), title="Sea at dawn")
    response = admin_client.get(reverse(CHANGELIST_URL))
    assert response.status_code == 200
    html = response.content.decode()
    assert photo.rendition_url("thumb") in html
    assert 'class="stylefinder-thumb"' in html
    assert "Sea at dawn" in html
    assert "120×80" in html
    assert reverse(UPLOAD_URL) in html
    assert "Upload photos" in html


def test_changelist_placeholder_for_photos_without_renditions(admin_client, db):
    from photos.services import ingest_photo

    ingest_photo(image_file("pending.jpg", seed=21))  # processing not run: still pending
    html = admin_client.get(reverse(CHANGELIST_URL)).content.decode()
    assert "stylefinder-thumb-placeholder" in html
    assert "processing…" in html


def test_changelist_search(admin_client, ingest):
    ingest(image_file("sea.jpg", seed=22), title="Sea at dawn")
    ingest(image_file("hills.jpg", seed=23), title="Green hills")
    hills = Photo.objects.get(title="Green hills")

    html = admin_client.get(reverse(CHANGELIST_URL), {"q": "dawn"}).content.decode()
    assert "Sea at dawn" in html and "Green hills" not in html

    html = admin_client.get(reverse(CHANGELIST_URL), {"q": "hills.jpg"}).content.decode()
    assert "Green hills" in html and "Sea at dawn" not in html

    html = admin_client.get(reverse(CHANGELIST_URL), {"q": hills.sha256[:12]}).content.decode()
    assert "Green hills" in html and "Sea at dawn" not in html


def test_status_filter_finds_failed_photos_and_shows_their_error(
    admin_client, ingest, failed_photo
):
    ingest(image_file("fine.jpg", seed=24), title="Fine photo")
    response = admin_client.get(reverse(CHANGELIST_URL), {"status__exact": "failed"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Broken" in html
    assert "Fine photo" not in html
    assert "disk full" in html  # excerpt and tooltip
    assert 'title="OSError: cannot write rendition' in html

    html = admin_client.get(reverse(CHANGELIST_URL)).content.decode()
    assert "1 photo failed processing." in html
    assert "?status__exact=failed" in html


def test_list_editable_published(admin_client, ingest):
    photo = ingest(image_file("sea.jpg", seed=25))
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(photo.pk),
        "_save": "Save",
    }  # "published" left out: unticked
    response = admin_client.post(reverse(CHANGELIST_URL), data)
    assert response.status_code == 302
    photo.refresh_from_db()
    assert photo.published is False


# --- Change page ------------------------------------------------------------------------------
def test_change_page_of_a_failed_photo_shows_the_full_error(admin_client, failed_photo):
    response = admin_client.get(reverse("admin:photos_photo_change", args=[failed_photo.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "OSError: cannot write rendition: disk full on /media/renditions (errno 28)" in html
    assert "Processing" in html
    # The failure is shown first, before the editable fields.
    assert html.index("disk full") < html.index('name="title"')


def test_change_page_shows_preview_file_info_and_exif(admin_client, ingest):
    photo = ingest(image_file("sea.jpg", seed=26, size=(300, 200)), title="Sea")
    response = admin_client.get(reverse("admin:photos_photo_change", args=[photo.pk]))
    html = response.content.decode()
    assert photo.rendition_url("medium") in html
    assert photo.sha256 in html
    assert "300×200" in html
    assert "Capture (EXIF)" in html
    assert photo.original.url in html
    assert 'name="sha256"' not in html  # read-only
    assert 'name="original"' not in html  # the original is never replaced from the form


def test_change_page_edits_title_description_published(admin_client, ingest):
    photo = ingest(image_file("sea.jpg", seed=27))
    sha = photo.sha256
    response = admin_client.post(
        reverse("admin:photos_photo_change", args=[photo.pk]),
        {
            "title": "New title",
            "description": "Long exposure.",
            "renditions-TOTAL_FORMS": "3",
            "renditions-INITIAL_FORMS": "3",
            "renditions-MIN_NUM_FORMS": "0",
            "renditions-MAX_NUM_FORMS": "0",
            **{
                f"renditions-{i}-id": str(r.pk)
                for i, r in enumerate(photo.renditions.order_by("pk"))
            },
            **{f"renditions-{i}-photo": str(photo.pk) for i in range(3)},
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    photo.refresh_from_db()
    assert (photo.title, photo.description, photo.published) == (
        "New title",
        "Long exposure.",
        False,
    )
    assert photo.sha256 == sha


# --- Actions ----------------------------------------------------------------------------------
def test_reprocess_action_repairs_a_failed_photo(
    admin_client, failed_photo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST_URL),
            {"action": "reprocess_selected", "_selected_action": [failed_photo.pk]},
            follow=True,
        )
    failed_photo.refresh_from_db()
    assert failed_photo.status == Photo.Status.READY
    assert failed_photo.error == ""
    assert "Re-processing requested for 1 photo" in response.content.decode()


def test_publish_and_unpublish_actions(admin_client, ingest):
    photos = [ingest(image_file(f"{i}.jpg", seed=30 + i)) for i in range(3)]
    ids = [photo.pk for photo in photos[:2]]

    response = admin_client.post(
        reverse(CHANGELIST_URL),
        {"action": "unpublish_selected", "_selected_action": ids},
        follow=True,
    )
    assert "Unpublished 2 photos." in response.content.decode()
    assert set(Photo.objects.filter(published=False).values_list("pk", flat=True)) == set(ids)

    response = admin_client.post(
        reverse(CHANGELIST_URL),
        {"action": "publish_selected", "_selected_action": ids[:1]},
        follow=True,
    )
    assert "Published 1 photo." in response.content.decode()
    assert Photo.objects.filter(published=False).count() == 1
