"""A real `celery worker` consuming from Redis processes uploads end to end:
ingest → renditions + features → debounced re-cluster → neighbours and albums on the site."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.urls import reverse

from photos.models import Photo
from recommender.models import ClusterRun, Membership
from tests.helpers.images import jpeg_bytes, styled
from tests.helpers.index import index_settled
from tests.integration.conftest import wait_for


def styled_jpeg(seed: int, style: str) -> bytes:
    return jpeg_bytes(styled(seed, style, (220, 150), shift=seed * 23), quality=88)


pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def ready_runs() -> int:
    return ClusterRun.objects.filter(status=ClusterRun.Status.READY).count()


def test_zip_upload_in_the_admin_is_processed_by_a_real_worker(admin_client, start_worker):
    worker = start_worker()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(30):
            zf.writestr(f"shoot/{i:02d}.jpg", styled_jpeg(i, "noir" if i % 2 else "warm"))
    archive.seek(0)
    archive.name = "shoot.zip"

    response = admin_client.post(
        reverse("admin:photos_photo_upload"), {"files": [archive], "published": "on"}
    )
    assert response.status_code == 200
    assert Photo.objects.count() == 30

    wait_for(
        lambda: Photo.objects.filter(status=Photo.Status.READY).count() == 30,
        timeout=120,
        what="30 photos ready",
        worker=worker,
    )
    wait_for(lambda: index_settled(30), timeout=60, what="a run over 30 photos", worker=worker)
    assert 1 <= ready_runs() <= 2

    run = ClusterRun.objects.get(is_active=True)
    assert run.k and run.k >= 2
    assert Membership.objects.filter(run=run).count() == 30
    for photo in Photo.objects.all():
        html = admin_client.get(photo.get_absolute_url()).content.decode()
        similar = re.findall(r'data-photo="(\d+)"', html)
        assert len(similar) >= 5, f"no neighbours on {photo}"
        assert str(photo.pk) not in similar
    albums = admin_client.get(reverse("gallery:albums")).content.decode()
    assert albums.count('href="/albums/') >= 2


def test_a_burst_of_50_photos_causes_at_most_two_runs(start_worker):
    from photos.services import ingest_photo

    worker = start_worker()
    for i in range(50):
        upload = io.BytesIO(styled_jpeg(100 + i, "noir" if i % 3 else "warm"))
        upload.name = f"burst-{i}.jpg"
        ingest_photo(upload)

    wait_for(
        lambda: Photo.objects.filter(status=Photo.Status.READY).count() == 50,
        timeout=180,
        what="50 photos ready",
        worker=worker,
    )
    wait_for(lambda: index_settled(50), timeout=60, what="a run over 50 photos", worker=worker)
    assert 1 <= ready_runs() <= 2, worker.log()
