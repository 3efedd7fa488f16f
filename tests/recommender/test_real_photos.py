"""Done-when of the foundation and recommendation issues, on the 65 real photographs:
import them all, a re-run imports none, and every photo gets 10 other similar photos."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from photos.models import Photo
from tests.helpers.shared_photos import ELEMENTARY, LITE0_MODEL, require


@pytest.fixture
def with_cnn(settings):
    settings.STYLEFINDER_EXTRACTORS = ["style", "cnn"]
    settings.STYLEFINDER_CNN_WEIGHTS = str(require(LITE0_MODEL))  # the extractor follows it


@pytest.mark.django_db(transaction=True)
def test_import_the_real_photos_and_recommend_ten_for_each(with_cnn, client, capsys):
    photos_dir = require(ELEMENTARY)
    call_command("import_photos", str(photos_dir))
    assert Photo.objects.count() == 65
    assert Photo.objects.filter(status=Photo.Status.READY).count() == 65

    call_command("import_photos", str(photos_dir))
    out = capsys.readouterr().out
    assert "Imported 0, already present 65, rejected 0." in out
    assert Photo.objects.count() == 65

    for photo in Photo.objects.all():
        response = client.get(f"/api/photos/{photo.pk}/similar/?k=10")
        assert response.status_code == 200
        ids = [item["id"] for item in response.json()["results"]]
        assert len(ids) == 10 and len(set(ids)) == 10
        assert photo.pk not in ids
