"""STORAGE_BACKEND=s3 and the AWS_* variables give the intended django-storages S3Storage.

Settings are read once per process, so each case loads them in a fresh interpreter with exactly
the environment under test (no network: building URLs does not talk to S3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.core.files.storage import default_storage, storages
default = settings.STORAGES["default"]
options = dict(default.get("OPTIONS", {}))
config = options.pop("client_config", None)
print(json.dumps({
    "backend": default["BACKEND"],
    "options": options,
    "client_config": config and {
        "connect_timeout": config.connect_timeout,
        "read_timeout": config.read_timeout,
        "retries": config.retries,
        "s3": config.s3,
        "signature_version": config.signature_version,
    },
    "serve_media": settings.STYLEFINDER_SERVE_MEDIA,
    "storage_class": type(storages["default"]).__name__,
    "url": default_storage.url("originals/a b.jpg"),
}))
"""

S3_ENV = {
    "STORAGE_BACKEND": "s3",
    "AWS_STORAGE_BUCKET_NAME": "photos",
    "AWS_S3_ENDPOINT_URL": "http://minio.internal:9000",
    "AWS_S3_REGION_NAME": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "key-id",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_S3_ADDRESSING_STYLE": "path",
}


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"STORAGE_BACKEND", "MEDIA_URL"}
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def load(env: dict[str, str]) -> dict:
    result = run_settings(env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_local_storage_is_the_default():
    loaded = load({})
    assert loaded["backend"] == "django.core.files.storage.FileSystemStorage"
    assert loaded["serve_media"] is True
    assert loaded["url"] == "/media/originals/a%20b.jpg"


def test_s3_backend_gets_every_option_from_the_environment():
    loaded = load(S3_ENV)

    assert loaded["backend"] == "storages.backends.s3.S3Storage"
    assert loaded["storage_class"] == "S3Storage"
    assert loaded["options"] == {
        "bucket_name": "photos",
        "endpoint_url": "http://minio.internal:9000",
        "region_name": "eu-west-1",
        "access_key": "key-id",
        "secret_key": "secret",
        "location": "media",
        "custom_domain": None,
        "querystring_auth": True,  # a private bucket: signed URLs
        "querystring_expire": 3600,
        "addressing_style": "path",
        "signature_version": "s3v4",
        "default_acl": None,
        "file_overwrite": False,
        "object_parameters": {"CacheControl": "max-age=31536000, immutable"},
    }
    assert loaded["client_config"] == {
        "connect_timeout": 5,
        "read_timeout": 30,
        "retries": {"max_attempts": 3, "mode": "standard"},
        "s3": {"addressing_style": "path"},
        "signature_version": "s3v4",
    }
    # Django does not serve media that live in a bucket.
    assert loaded["serve_media"] is False
    url = loaded["url"]
    assert url.startswith("http://minio.internal:9000/photos/media/originals/a%20b.jpg?")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url


def test_timeouts_retries_prefix_and_expiry_are_configurable():
    loaded = load(
        {
            **S3_ENV,
            "AWS_LOCATION": "site-a",
            "AWS_QUERYSTRING_EXPIRE": "600",
            "AWS_S3_CONNECT_TIMEOUT": "2",
            "AWS_S3_READ_TIMEOUT": "7",
            "AWS_S3_MAX_ATTEMPTS": "1",
        }
    )
    assert loaded["options"]["location"] == "site-a"
    assert loaded["options"]["querystring_expire"] == 600
    assert loaded["client_config"]["connect_timeout"] == 2
    assert loaded["client_config"]["read_timeout"] == 7
    assert loaded["client_config"]["retries"]["max_attempts"] == 1
    assert "/photos/site-a/originals/" in loaded["url"]
    assert "X-Amz-Expires=600" in loaded["url"]


def test_a_cdn_domain_gives_plain_unsigned_urls():
    loaded = load({**S3_ENV, "AWS_S3_CUSTOM_DOMAIN": "cdn.example.com"})
    assert loaded["options"]["custom_domain"] == "cdn.example.com"
    assert loaded["options"]["querystring_auth"] is False
    assert loaded["url"] == "https://cdn.example.com/media/originals/a%20b.jpg"

    signed = load(
        {**S3_ENV, "AWS_S3_CUSTOM_DOMAIN": "cdn.example.com", "AWS_QUERYSTRING_AUTH": "1"}
    )
    assert signed["options"]["querystring_auth"] is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"STORAGE_BACKEND": "s3"},
            "ImproperlyConfigured: STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME",
        ),
        (
            {**S3_ENV, "AWS_STORAGE_BUCKET_NAME": ""},
            "ImproperlyConfigured: STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME",
        ),
        (
            {"STORAGE_BACKEND": "ftp"},
            "ImproperlyConfigured: STORAGE_BACKEND must be 'local' or 's3', not 'ftp'",
        ),
        (
            {**S3_ENV, "AWS_S3_CONNECT_TIMEOUT": "soon"},
            "ImproperlyConfigured: AWS_S3_CONNECT_TIMEOUT must be an integer, not 'soon'",
        ),
    ],
)
def test_incomplete_or_wrong_storage_settings_fail_clearly(env, message):
    result = run_settings(env)
    assert result.returncode != 0
    assert message in result.stderr
