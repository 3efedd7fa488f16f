"""The OpenAPI schema is valid, and the API does what it says: schemathesis against /api/schema/.

Schemathesis reads the schema the site serves and sends generated requests (valid ones, and
invalid ones for each parameter and body field) to the Django WSGI app in this process, inside
the test's database transaction. All its checks run on every response: no server error, status
codes, content types, headers and bodies as documented, valid data accepted, invalid data
rejected, authentication enforced where declared. Once as a visitor, once as staff with a token.

Where the generated data is adjusted, and why:
- image uploads: a schema can say "a file" but not "a real JPEG", so the generated file bytes are
  replaced by a real image (what the server does with broken files is tested in
  test_similar_api and test_upload_api);
- multipart bodies: "invalid" data that is valid once encoded as a form is not expected to be
  rejected (see `invalid_only_before_sending`);
- the widget's endpoints (events, widget): valid-looking impression tokens are not real ones,
  so their refusal is not a failure there.
"""

from __future__ import annotations

import io
import os
import re
import zlib

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from jsonschema import Draft4Validator
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transforms import to_wire_text
from schemathesis.specs.openapi import checks
from schemathesis.transport.serialization import Binary

from photos.models import Photo
from tests.helpers.images import image_bytes, image_file

OPERATIONS = {
    ("GET", "/api/albums/"),
    ("GET", "/api/albums/{id}/"),
    ("GET", "/api/metrics/"),
    ("GET", "/api/photos/"),
    ("POST", "/api/photos/"),
    ("GET", "/api/photos/{id}/"),
    ("GET", "/api/photos/{id}/similar/"),
    ("POST", "/api/similar/"),
}


@pytest.fixture
def library(ingest, db):
    """A small analysed library: albums (one hidden), an unpublished and a pending photo."""
    from photos.services import ingest_photo
    from recommender.models import Album
    from recommender.services import recluster

    photos = [ingest(image_file(f"s{i}.jpg", size=(96, 64), seed=200 + i)) for i in range(8)]
    recluster(k=3)
    Album.objects.filter(pk=Album.objects.order_by("pk").first().pk).update(hidden=True)
    Photo.objects.filter(pk=photos[0].pk).update(published=False)
    ingest_photo(image_file("pending.jpg", seed=299))  # stays pending: on_commit never runs
    return photos


@pytest.fixture
def unthrottled(settings):
    """Generous limits, so that hundreds of requests in a few seconds are never refused."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "anon": "100000/min",
            "user": "100000/min",
            "similar_upload": "100000/min",
        },
    }


@pytest.fixture
def staff_token(db) -> dict:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


@pytest.fixture
def keep_the_test_connection():
    """Requests to the real WSGI handler close "old" database connections when they finish,
    which would end the test's transaction (PostgreSQL); Django's test client avoids it the
    same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(library, unthrottled, keep_the_test_connection, settings):
    from config.wsgi import application

    settings.ALLOWED_HOSTS = ["localhost"]  # the host schemathesis' WSGI client uses
    return schemathesis.openapi.from_wsgi("/api/schema/", application)


def real_image(case) -> None:
    """Replace a generated upload's bytes with a real small JPEG (varied, deterministic)."""
    value = case.body.get("image") if isinstance(case.body, dict) else None
    data = value.data if isinstance(value, Binary) else value
    if isinstance(data, bytes):
        seed = zlib.crc32(data) % 997
        case.body["image"] = Binary(image_bytes("JPEG", size=(48, 32), seed=seed))


def _wire_text(value) -> str:
    """A form field's text as schemathesis sends it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | dict | list) or value is None:
        return to_wire_text(value)  # JSON spelling: true, null, {...}
    return str(value)


def _parsed(text: str, schema: dict):
    """Form text as the server reads it for a field of this declared type."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def invalid_only_before_sending(case) -> bool:
    """Whether a multipart body generated as schema-violating is valid once on the wire.

    In multipart/form-data every field is text, and a list is the same field repeated (the
    server reads the last; an empty list sends nothing): an object generated for a string field
    arrives as its JSON text (a valid string), the string "5" for an integer field arrives as 5,
    `k: []` is no `k` at all. And Werkzeug's test client, which carries these requests, encodes
    an empty field so that the server never sees it (`k: ""` arrives as no `k`; the Django test
    client sends it properly, see test_similar_api). The server cannot, and should not, reject
    what it never received; negative_data_rejection is skipped for those cases (every other
    check still runs).
    """
    if case.media_type != "multipart/form-data" or not isinstance(case.body, dict):
        return False
    if case.meta is None or not case.meta.is_negative_at(ParameterLocation.BODY):
        return False
    spec = case.operation.schema.raw_schema
    body = case.operation.definition.raw["requestBody"]["content"]["multipart/form-data"]
    schema = spec["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    properties = schema.get("properties", {})
    sent = {}
    for name, value in case.body.items():
        values = value if isinstance(value, list) else [value]
        if not values:
            continue
        last = values[-1]
        if isinstance(last, Binary):
            sent[name] = last
        elif text := _wire_text(last):
            sent[name] = _parsed(text, properties.get(name, {}))
    return Draft4Validator(schema).is_valid(sent)


def check(case, **kwargs):
    real_image(case)
    excluded = kwargs.pop("excluded_checks", [])
    if invalid_only_before_sending(case):
        excluded = [*excluded, checks.negative_data_rejection]
    case.call_and_validate(excluded_checks=excluded or None, **kwargs)


#: endpoints whose views belong to the widget work (api/events.py, widget.py)
FOREIGN = "^/api/(events|widget)/"

schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=FOREIGN)
foreign_schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex=FOREIGN)


BOUNDED = settings(
    # 30 per operation keeps the suite fast; raise it for a deeper run, e.g.
    # SCHEMATHESIS_EXAMPLES=500 pytest tests/api/test_schema.py
    max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "30")),
    deadline=None,
    derandomize=True,  # the same examples on every run
    database=None,
    # One database transaction for all the examples of a test, by design.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@schema.parametrize()
@BOUNDED
def test_the_api_conforms_to_its_schema_for_visitors(case):
    check(case)


@schema.parametrize()
@BOUNDED
def test_the_api_conforms_to_its_schema_for_staff(case, staff_token):
    check(case, headers=staff_token)


@foreign_schema.parametrize()
@BOUNDED
def test_the_widget_endpoints_answer_as_documented(case):
    """All checks but positive_data_acceptance: an impression token is signed by the server, so
    a generated one is schema-valid and still, rightly, refused."""
    check(case, excluded_checks=[checks.positive_data_acceptance])


# --- the schema itself ---------------------------------------------------------------------------


def test_schema_lists_every_endpoint_with_its_errors(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    spec = yaml.safe_load(response.content)
    assert spec["openapi"].startswith("3.")
    operations = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if path != "/api/events/"  # owned and documented with the widget
    }
    assert operations >= OPERATIONS
    error = {"$ref": "#/components/schemas/Error"}
    for method, path in OPERATIONS:
        responses = spec["paths"][path][method.lower()]["responses"]
        assert responses["429"]["content"]["application/json"]["schema"] == error
        assert "Retry-After" in responses["429"]["headers"]
    upload = spec["paths"]["/api/photos/"]["post"]
    assert set(upload["responses"]) >= {"201", "400", "401", "403", "409", "415", "429"}
    assert upload["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]
    assert list(upload["requestBody"]["content"]) == ["multipart/form-data"]
    schemas = spec["components"]["schemas"]
    assert schemas["ValidationError"]["required"] == ["code", "detail", "errors"]
    assert schemas["DuplicateError"]["properties"]["existing"]["type"] == "integer"


def test_schema_generation_is_clean():
    """What `manage.py spectacular --validate --fail-on-warn` checks, for the API's own views."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "openapi: 3.0.3" in out.getvalue()


def test_the_interactive_docs_load_nothing_from_other_sites(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html  # the start-up script is a file of its own (CSP: no inline)
    start = re.search(r'<script src="(/api/docs/\?[^"]*script=[^"]*)"', html).group(1)
    script = client.get(start.replace("&amp;", "&"))
    assert script.status_code == 200 and "javascript" in script["Content-Type"]
    code = script.content.decode()
    assert "/api/schema/" in code
    assert '"validatorUrl": null' in code  # no badge from validator.swagger.io
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html)
    assets = re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
