"""Every API error has one body: {"detail", "code"} (+ "errors" for a 400 with fields)."""

from urllib.parse import unquote

import pytest
from rest_framework import serializers

from api.errors import flatten_errors, summary


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    allowed = {"detail", "code", "errors"} if status == 400 else {"detail", "code"}
    assert set(body) <= allowed
    return body


def test_400_lists_the_fields(client, db):
    body = assert_error(client.get("/api/photos/?cluster=x&status=y"), 400, "invalid")
    assert body["errors"] == {
        "cluster": ["A valid integer is required."],
        "status": ['"y" is not a valid choice.'],
    }
    assert body["detail"] == "cluster: A valid integer is required. (and 1 more error)"


def test_400_for_an_unreadable_body_has_no_field_errors(client, db):
    response = client.post("/api/similar/", b"--", content_type="multipart/form-data")
    body = assert_error(response, 400, "parse_error")
    assert body["errors"] == {}
    assert body["detail"].startswith("Multipart form parse error")


def test_400_of_a_view_raising_a_plain_message(admin_client):
    body = assert_error(admin_client.get("/api/metrics/?experiment=x"), 400, "invalid")
    assert body["errors"] == {"experiment": ["An experiment id, or “all” for every event."]}


def test_401_has_the_token_challenge(client, db):
    response = client.get("/api/metrics/")
    body = assert_error(response, 401, "not_authenticated")
    assert body["detail"] == "Authentication credentials were not provided."
    assert response["WWW-Authenticate"] == "Token"
    # A bad token is refused even where no authentication is needed.
    response = client.get("/api/photos/", HTTP_AUTHORIZATION="Token 0000")
    assert_error(response, 401, "authentication_failed")


def test_403_for_signed_in_non_staff(member_api):
    assert_error(member_api.get("/api/metrics/"), 403, "permission_denied")


def test_404_of_an_object(client, db):
    body = assert_error(client.get("/api/photos/12345/similar/"), 404, "not_found")
    assert body["detail"] == "No Photo matches the given query."


@pytest.mark.parametrize(
    "path",
    [
        "/api/nothing-here/",
        "/api/photos/abc/",
        "/api/photos/1/x/",
        "/api/v2/photos/",
        "/api/line%0Abreak/",
    ],
)
def test_404_of_an_unknown_api_url_is_json(client, db, path):
    body = assert_error(client.get(path), 404, "not_found")
    assert body["detail"] == f"There is no API endpoint at {unquote(path)}."
    assert_error(client.post(path), 404, "not_found")


@pytest.mark.parametrize(
    "path", ["/api/photos/{n}/", "/api/photos/{n}/similar/", "/api/albums/{n}/"]
)
def test_404_for_ids_too_long_to_be_numbers(client, db, path):
    assert_error(client.get(path.format(n="9" * 5000)), 404, "not_found")


def test_the_gallery_keeps_its_html_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_missing_trailing_slash_is_redirected(client, db):
    response = client.get("/api/photos?page_size=2")
    assert response.status_code == 301
    assert response["Location"] == "/api/photos/?page_size=2"
    response = client.post("/api/similar")
    assert response.status_code == 308  # the method and the body are kept
    assert response["Location"] == "/api/similar/"
    assert_error(client.get("/api/nothing"), 404, "not_found")


def test_405_names_the_allowed_methods(client, db):
    response = client.delete("/api/photos/")
    body = assert_error(response, 405, "method_not_allowed")
    assert body["detail"] == 'Method "DELETE" not allowed.'
    assert "GET" in response["Allow"]


def test_415_for_a_body_of_the_wrong_type(client, db):
    response = client.post("/api/similar/", {"k": 3}, content_type="application/json")
    body = assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in body["detail"]


def test_429_has_retry_after(client, db, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "anon": "2/min",
        },
    }
    assert [client.get("/api/albums/").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/albums/")
    body = assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert body["detail"].startswith("Request was throttled.")


def test_500_is_json_and_still_reported(client, db, monkeypatch, caplog):
    from api import albums

    def broken():
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr(albums, "visible_albums", broken)
    # The test client re-raises what a view raised: the failure is not swallowed ...
    with pytest.raises(RuntimeError, match="caught fire"):
        client.get("/api/albums/")
    # ... and the client gets the API's error body, while the log keeps the traceback.
    client.raise_request_exception = False
    response = client.get("/api/albums/")
    body = assert_error(response, 500, "server_error")
    assert body["detail"] == "A server error occurred."
    errors = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    record = errors[-1]
    assert record.exc_info and "caught fire" in str(record.exc_info[1])


def test_nested_errors_are_flattened():
    assert flatten_errors({"a": ["x"], "b": {"c": ["y"]}, "d": [{"e": ["z"]}, {}]}) == {
        "a": ["x"],
        "b.c": ["y"],
        "d.0.e": ["z"],
    }
    assert flatten_errors(["whole request"]) == {"non_field_errors": ["whole request"]}
    assert flatten_errors("just text") == {"non_field_errors": ["just text"]}
    assert summary({"non_field_errors": ["Whole."]}) == "Whole."
    assert summary({}) == "The request is not valid."


def test_validation_error_raised_anywhere_has_the_shape():
    from api.errors import exception_handler

    response = exception_handler(serializers.ValidationError("Nope."), {})
    assert response.status_code == 400
    assert response.data == {
        "detail": "Nope.",
        "code": "invalid",
        "errors": {"non_field_errors": ["Nope."]},
    }


BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"}
BODY_ENDPOINTS = ["/api/events/", "/api/widget/", "/api/similar/"]
FORM_ENDPOINTS = ["/api/widget/", "/api/similar/"]  # /api/events/ reads JSON only (415 for forms)


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_a_body_over_django_s_limit_is_413_not_500(client, db, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = b'{"type": "dwell", "path": "' + b"x" * 4096 + b'"}'
    response = client.post(path, body, content_type="application/json", **BROWSER)
    if response.status_code == 415:  # an upload endpoint: the same body as a form field
        response = client.post(path, {"k": "3", "note": "x" * 4096}, **BROWSER)
    body = assert_error(response, 413, "payload_too_large")
    assert "at most 1 KB" in body["detail"]


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
def test_too_many_fields_is_400_not_500(client, db, settings, path):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    response = client.post(path, {f"field{i}": "1" for i in range(20)}, **BROWSER)
    body = assert_error(response, 400, "parse_error")
    assert body["detail"] == "The request has too many fields (at most 5)."


@pytest.mark.parametrize("path", FORM_ENDPOINTS)
def test_too_many_files_is_400_not_500(client, db, settings, path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = [SimpleUploadedFile(f"p{i}.jpg", b"\xff\xd8\xff", "image/jpeg") for i in range(5)]
    response = client.post(path, {"image": files}, **BROWSER)
    body = assert_error(response, 400, "parse_error")
    assert body["detail"] == "The request has too many files (at most 2)."
