"""Issue #15: a photo uploaded to a 100,000-photo gallery joins the active run through a real
`celery worker` on PostgreSQL (its neighbours, the lists it enters, its album) without a full
re-fit."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from benchmarks.speed import synthetic
from benchmarks.synthetic_gallery import populate
from photos.models import Photo
from photos.services import ingest_photo
from recommender.features import get_extractor
from recommender.models import ClusterRun, Membership, Neighbour, RecommenderSettings
from recommender.services import recluster
from tests.helpers.images import jpeg_bytes, styled
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

GALLERY = 100_000


def test_a_photo_joins_a_100k_gallery_without_a_refit(start_worker, client):
    style = get_extractor("style")
    looks = [styled(i, look, (220, 150)) for i in range(8) for look in ("noir", "warm", "cool")]
    real = np.stack([style.extract(image) for image in looks])
    populate({"style": synthetic(real, real.shape[1], GALLERY, np.random.default_rng(15))})
    knobs = RecommenderSettings.load()
    knobs.neighbours_per_photo, knobs.cluster_count = 10, 12  # rows and the k sweep kept short
    knobs.save()
    run = recluster().run  # the full build, in this process
    assert (run.n_photos, run.status) == (GALLERY, ClusterRun.Status.READY)

    worker = start_worker()
    upload = io.BytesIO(jpeg_bytes(styled(99, "noir", (220, 150)), quality=88))
    upload.name = "newcomer.jpg"
    photo = ingest_photo(upload)
    wait_for(
        lambda: Membership.objects.filter(run=run, photo=photo).exists(),
        timeout=120,
        what="the new photo to join the run",
        worker=worker,
    )

    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.READY
    assert list(ClusterRun.objects.values_list("pk", flat=True)) == [run.pk]  # no re-fit
    run.refresh_from_db()
    assert (run.is_active, run.n_photos, run.added_photos) == (True, GALLERY, 1)
    assert RecommenderSettings.load().index_dirty_since is None
    assert Membership.objects.get(run=run, photo=photo).added

    own = client.get(f"/api/photos/{photo.pk}/similar/?k=10").json()["results"]
    assert len(own) == 10 and photo.pk not in [hit["id"] for hit in own]
    entered = list(Neighbour.objects.filter(run=run, neighbour=photo).values_list("photo", "rank"))
    assert entered, "the photo entered nobody's list"
    for other, rank in entered[:3]:
        listed = client.get(f"/api/photos/{other}/similar/?k=10").json()["results"]
        assert [hit["id"] for hit in listed].index(photo.pk) == rank - 1
    added = re.search(r"Added 1 photos to run \d+ in (\d+) ms", worker.log())
    assert added, worker.log()
    print(f"add took {added.group(1)} ms in the worker; {len(entered)} lists changed")
