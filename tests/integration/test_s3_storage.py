"""Media on an S3 API over HTTP: moto's server, django-storages' S3Storage, a real Celery worker.

Originals, renditions, index files and deletions go through the bucket; the pages' image URLs
point at the S3 endpoint and return images. When S3 is cut off (a TCP proxy in front of moto
refuses connections), uploads fail with a clear message and leave nothing behind, processing
is retried and never loses an original, and deleting keeps the database consistent.
"""

from __future__ import annotations

import html
import io
import re
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from PIL import Image

from photos.models import OrphanedFile, Photo
from photos.pipeline import process_photo
from photos.services import StorageUnavailable, ingest_photo
from photos.tasks import MAX_RETRIES
from recommender.models import ClusterRun
from tests.helpers.images import image_bytes
from tests.helpers.index import index_settled
from tests.integration import s3_server
from tests.integration.conftest import wait_for
from tests.integration.s3_server import S3Bucket

# The S3 fixtures (tests/integration/s3_server.py), used by name below.
moto_server = s3_server.moto_server
s3 = s3_server.s3

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

UPLOAD_URL = "admin:photos_photo_upload"


def upload_file(name: str, seed: int, fmt: str = "JPEG", size=(360, 240)) -> io.BytesIO:
    file = io.BytesIO(image_bytes(fmt, size=size, seed=seed))
    file.name = name
    return file


def photo_keys(bucket: S3Bucket, photo: Photo) -> set[str]:
    names = [photo.original.name, *(r.file.name for r in photo.renditions.all())]
    return {bucket.key(name) for name in names}


def image_urls(page: str) -> list[str]:
    """Every URL in the page's <img src> and srcset attributes."""
    urls = [html.unescape(u) for u in re.findall(r'<img[^>]*\ssrc="([^"]+)"', page)]
    for srcset in re.findall(r'srcset="([^"]+)"', page):
        urls += [html.unescape(item.strip().split(" ")[0]) for item in srcset.split(",")]
    return urls


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def assert_served_from_s3(bucket: S3Bucket, urls: list[str]) -> None:
    assert urls, "no images on the page"
    for url in sorted(set(urls)):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == bucket.endpoint, url
        assert parts.path.startswith(f"/{bucket.name}/{bucket.location}/renditions/"), url
        assert "X-Amz-Signature=" in parts.query, url  # a private bucket: signed URLs
        status, content_type, body = fetch(url)
        assert status == 200
        assert content_type == "image/webp", url
        with Image.open(io.BytesIO(body)) as image:
            assert image.format == "WEBP"


def test_uploads_are_stored_processed_and_served_from_s3(
    admin_client, s3, start_worker, media_root
):
    worker = start_worker(**s3.env())
    files = [upload_file(f"s3-{i}.jpg", seed=i) for i in range(5)]
    files.append(upload_file("s3-5.png", seed=5, fmt="PNG"))
    originals = {f.name: f.getvalue() for f in files}

    response = admin_client.post(reverse(UPLOAD_URL), {"files": files, "published": "on"})
    assert response.status_code == 200
    assert "Imported (6)" in response.content.decode()
    wait_for(
        lambda: Photo.objects.filter(status=Photo.Status.READY).count() == 6,
        timeout=120,
        what="6 photos ready",
        worker=worker,
    )
    wait_for(lambda: index_settled(6), timeout=60, what="a run over 6 photos", worker=worker)

    # Every original and rendition is an object in the bucket, and so is the run's index file.
    photos = list(Photo.objects.with_renditions())
    keys = s3.object_keys()
    for photo in photos:
        assert photo.renditions.count() == 3
        assert photo_keys(s3, photo) <= keys
        assert s3.read(photo.original.name) == originals[photo.original_filename]
        head = s3.head(photo.rendition("thumb").file.name)
        assert head["ContentType"] == "image/webp"
        assert head["CacheControl"] == "max-age=31536000, immutable"
    run = ClusterRun.objects.get(is_active=True)
    # The index file is in the bucket too, under the private prefix, not among the media.
    assert run.space_file and s3.index_key(run.space_file.name) in keys
    assert s3.key(run.space_file.name) not in keys
    assert not [p for p in media_root.rglob("*") if p.is_file()]  # nothing on the local disk

    # The public pages point at S3, and those URLs return the images over HTTP.
    gallery = admin_client.get(reverse("gallery:index")).content.decode()
    assert_served_from_s3(s3, image_urls(gallery))
    photo = photos[0]
    page = admin_client.get(photo.get_absolute_url()).content.decode()
    assert_served_from_s3(s3, image_urls(page))
    assert len(re.findall(r'data-photo="(\d+)"', page)) >= 3  # similar photos, thumbnails on S3

    # The admin's "Download the original" link serves the photographer's bytes.
    change = admin_client.get(reverse("admin:photos_photo_change", args=[photo.pk]))
    original_url = html.unescape(
        re.search(r'<a href="([^"]+)"[^>]*>Download the original', change.content.decode())[1]
    )
    assert original_url.startswith(f"{s3.endpoint}/{s3.name}/{s3.location}/originals/")
    assert fetch(original_url)[2] == originals[photo.original_filename]


def test_deleting_photos_removes_their_objects_from_the_bucket(admin_client, s3):
    photos = []
    for i in range(3):
        photo = ingest_photo(upload_file(f"gone-{i}.jpg", seed=40 + i))
        photos.append(process_photo(photo.pk))  # in this process, through S3 as well
    keys = {photo.pk: photo_keys(s3, photo) for photo in photos}
    assert all(len(k) == 4 for k in keys.values())
    assert set().union(*keys.values()) <= s3.object_keys()

    # One from its admin page ...
    response = admin_client.post(
        reverse("admin:photos_photo_delete", args=[photos[0].pk]), {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not keys[photos[0].pk] & s3.object_keys()
    # ... and two with the list's "delete selected" action.
    response = admin_client.post(
        reverse("admin:photos_photo_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [photos[1].pk, photos[2].pk],
            "post": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert not Photo.objects.exists()
    assert not {key for key in s3.object_keys() if not key.startswith(f"{s3.location}/index/")}
    assert not OrphanedFile.objects.exists()


def test_s3_down_during_an_upload_gives_a_clear_error_and_keeps_the_library(admin_client, s3):
    kept = process_photo(ingest_photo(upload_file("kept.jpg", seed=60)).pk)
    assert kept.status == Photo.Status.READY
    keys_before = s3.object_keys()

    with s3.outage():
        with pytest.raises(StorageUnavailable) as excinfo:
            ingest_photo(upload_file("lost.jpg", seed=61))
        response = admin_client.post(
            reverse(UPLOAD_URL),
            {"files": [upload_file(f"new-{i}.jpg", seed=62 + i) for i in range(3)]},
            follow=True,
        )
        # Pages of the library still render (URLs are signed locally, no call to S3).
        assert admin_client.get(kept.get_absolute_url()).status_code == 200

    assert str(excinfo.value).startswith(
        "Could not store the photo: the media storage is not reachable (Could not connect to "
        f'the endpoint URL: "{s3.endpoint}/'
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Could not store the photo: the media storage is not reachable" in page
    assert "upload them again once the storage is back" in page
    assert "Rejected (3)" in page
    assert list(Photo.objects.all()) == [kept]  # no half-created photo, the library intact
    assert s3.object_keys() == keys_before

    # S3 is back: the same files go in.
    response = admin_client.post(
        reverse(UPLOAD_URL), {"files": [upload_file("new-0.jpg", seed=62)]}, follow=True
    )
    assert "Imported (1)" in response.content.decode()
    assert Photo.objects.count() == 2


def test_a_missing_bucket_is_a_clear_error(s3, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3.storage_settings(AWS_STORAGE_BUCKET_NAME="no-such-bucket"),
    }
    with pytest.raises(StorageUnavailable) as excinfo:
        ingest_photo(upload_file("beach.jpg", seed=70))
    assert str(excinfo.value) == (
        "Could not store the photo: the media storage refused the request "
        "(NoSuchBucket: The specified bucket does not exist)."
    )
    assert not Photo.objects.exists()


def test_deleting_with_s3_down_keeps_the_database_consistent_and_records_the_files(
    admin_client, s3
):
    photo = process_photo(ingest_photo(upload_file("doomed.jpg", seed=80)).pk)
    keys = photo_keys(s3, photo)

    with s3.outage():
        response = admin_client.post(
            reverse("admin:photos_photo_delete", args=[photo.pk]), {"post": "yes"}, follow=True
        )
    page = response.content.decode()
    assert response.status_code == 200
    assert "The media storage could not delete 4 file(s)" in page
    assert not Photo.objects.exists()
    assert keys <= s3.object_keys()  # left in the bucket, and recorded
    orphans = set(OrphanedFile.objects.values_list("name", flat=True))
    assert {s3.key(name) for name in orphans} == keys

    # Once S3 is back, the admin deletes them.
    response = admin_client.post(
        reverse("admin:photos_orphanedfile_changelist"),
        {
            "action": "delete_from_storage",
            "_selected_action": list(OrphanedFile.objects.values_list("pk", flat=True)),
        },
        follow=True,
    )
    assert "Deleted 4 file(s)." in response.content.decode()
    assert not keys & s3.object_keys()
    assert not OrphanedFile.objects.exists()


def test_s3_down_while_processing_is_retried_until_it_is_back(s3, start_worker):
    photo = ingest_photo(upload_file("patient.jpg", seed=90))  # queued; no worker yet
    original = s3.read(photo.original.name)

    s3.proxy.down()
    try:
        worker = start_worker(**s3.env())
        worker.wait_until(
            lambda: b"Retry in" in worker.log_path.read_bytes(),
            timeout=60,
            what="a retry of the processing task",
        )
        photo.refresh_from_db()
        assert photo.status == Photo.Status.PENDING
        assert photo.error == ""
    finally:
        s3.proxy.up()

    wait_for(
        lambda: Photo.objects.get(pk=photo.pk).status == Photo.Status.READY,
        timeout=90,
        what="the photo ready once S3 is back",
        worker=worker,
    )
    photo.refresh_from_db()
    assert photo_keys(s3, photo) <= s3.object_keys()
    assert s3.read(photo.original.name) == original


def test_s3_down_for_every_retry_fails_the_photo_with_the_reason_in_the_admin(
    admin_client, s3, start_worker
):
    photo = ingest_photo(upload_file("unlucky.jpg", seed=95))
    original = s3.read(photo.original.name)

    with s3.outage():
        worker = start_worker(**s3.env())
        wait_for(
            lambda: Photo.objects.get(pk=photo.pk).status == Photo.Status.FAILED,
            timeout=150,
            what="the photo failed after its retries",
            worker=worker,
        )
    assert worker.log_path.read_text().count("Retry in") == MAX_RETRIES  # with backoff
    photo.refresh_from_db()
    assert "the media storage is not reachable" in photo.error
    assert "re-process the photo once the storage is back" in photo.error
    assert s3.read(photo.original.name) == original  # never lost

    change = admin_client.get(reverse("admin:photos_photo_change", args=[photo.pk]))
    assert "the media storage is not reachable" in change.content.decode()

    # S3 is back: "Re-process" from the admin makes it ready.
    admin_client.post(
        reverse("admin:photos_photo_changelist"),
        {"action": "reprocess_selected", "_selected_action": [photo.pk]},
    )
    wait_for(
        lambda: Photo.objects.get(pk=photo.pk).status == Photo.Status.READY,
        timeout=60,
        what="the photo ready after re-processing",
        worker=worker,
    )
    photo.refresh_from_db()
    assert photo.error == ""
    assert photo_keys(s3, photo) <= s3.object_keys()
