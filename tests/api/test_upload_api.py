"""POST /api/photos/: staff add photos through ingest_photo, with a token or a session."""

import io

import pytest

from photos.models import Photo
from tests.helpers.images import image_bytes, image_file


def test_staff_upload_with_a_token_is_created_and_processed_after_commit(
    staff_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_api.post(
            "/api/photos/",
            {
                "image": image_file("harbour_dawn.jpg", size=(90, 60)),
                "description": "First light.",
            },
            format="multipart",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    photo = Photo.objects.get()
    assert body["id"] == photo.pk
    assert response["Location"] == f"http://testserver/api/photos/{photo.pk}/"
    assert body["status"] == "pending" and body["thumbnail_url"] is None
    assert body["original_filename"] == "harbour_dawn.jpg"
    assert body["title"] == "Harbour dawn"  # from the file name
    assert body["description"] == "First light."
    assert (body["width"], body["height"]) == (90, 60)
    assert photo.published is True
    # Processing, and then the re-cluster of the embedded default, are queued for after the
    # commit, not run inside the request's transaction.
    assert len(callbacks) == 2
    for callback in callbacks:
        callback()
    photo.refresh_from_db()
    assert photo.status == Photo.Status.READY
    assert staff_api.get(f"/api/photos/{photo.pk}/").json()["thumbnail_url"]


def test_title_and_published_are_honoured(staff_api, client):
    response = staff_api.post(
        "/api/photos/",
        {"image": image_file("x.jpg"), "title": "  Night ferry ", "published": "false"},
        format="multipart",
    )
    assert response.status_code == 201
    photo = Photo.objects.get()
    assert (photo.title, photo.published) == ("Night ferry", False)
    assert client.get(f"/api/photos/{photo.pk}/").status_code == 404


def test_staff_session_may_upload_too(client, staff):
    client.force_login(staff)
    response = client.post("/api/photos/", {"image": image_file("s.jpg")})
    assert response.status_code == 201
    assert Photo.objects.count() == 1


def test_anonymous_upload_is_a_401_that_asks_for_a_token(client, db):
    response = client.post("/api/photos/", {"image": image_file("a.jpg")})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert not Photo.objects.exists()


def test_a_wrong_token_is_a_401(client, db):
    response = client.post(
        "/api/photos/", {"image": image_file("a.jpg")}, HTTP_AUTHORIZATION="Token nope"
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_non_staff_upload_is_a_403(member_api):
    response = member_api.post("/api/photos/", {"image": image_file("m.jpg")}, format="multipart")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to perform this action.",
        "code": "permission_denied",
    }
    assert not Photo.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"GIF89a not really", "This file is not a JPEG, PNG, WebP or TIFF image."),
        (image_bytes("JPEG", size=(300, 200))[:400], "The image is truncated or damaged"),
    ],
    ids=["empty", "not-an-image", "truncated"],
)
def test_a_bad_image_is_a_clear_400_and_stores_nothing(staff_api, media_root, data, message):
    upload = io.BytesIO(data)
    upload.name = "bad.jpg"
    response = staff_api.post("/api/photos/", {"image": upload}, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["image"]
    assert body["errors"]["image"][0].startswith(message)
    assert body["detail"] == f"image: {body['errors']['image'][0]}"
    assert not Photo.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_missing_image_and_bad_fields_are_a_400(staff_api):
    response = staff_api.post(
        "/api/photos/", {"title": "t" * 201, "published": "maybe"}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"image", "title", "published"}
    assert body["detail"].endswith("(and 2 more errors)")
    assert not Photo.objects.exists()


def test_a_duplicate_is_a_409_naming_the_photo_already_there(staff_api):
    first = staff_api.post("/api/photos/", {"image": image_file("one.jpg")}, format="multipart")
    assert first.status_code == 201
    again = staff_api.post("/api/photos/", {"image": image_file("two.jpg")}, format="multipart")
    assert again.status_code == 409
    existing = first.json()["id"]
    assert again.json() == {
        "detail": f"Already in the library as “One” (photo #{existing}).",
        "code": "duplicate",
        "existing": existing,
    }
    assert Photo.objects.count() == 1


def test_a_form_without_a_file_is_a_415(staff_api):
    response = staff_api.post("/api/photos/", {"title": "x"}, format="json")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
