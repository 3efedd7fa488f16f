"""Index files hold every photo id and vector of a run, unpublished photos included: they live
in `STORAGES["index"]`, outside the served media, with no URL."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.urls import reverse

from photos.services import set_published
from recommender.models import ClusterRun
from recommender.services import recluster
from tests.helpers.images import jpeg_file, styled


@pytest.fixture
def indexed(ingest):
    photos = [ingest(jpeg_file(styled(i, "warm"), f"w{i}.jpg")) for i in range(4)]
    set_published([photos[0]], False)
    recluster()
    return ClusterRun.objects.get(is_active=True), photos


def test_the_index_file_is_outside_the_public_media(client, indexed, media_root):
    run, _ = indexed
    name = run.space_file.name
    assert name.startswith("index/run-")
    private = storages["index"]
    assert private.exists(name) and not default_storage.exists(name)
    assert Path(private.path(name)) == media_root.with_name(f"{media_root.name}-private") / name
    assert not any(p.suffix == ".npz" for p in media_root.rglob("*"))
    assert client.get(f"/media/{name}").status_code == 404
    with pytest.raises(ValueError, match="private file"):
        run.space_file.url  # noqa: B018 (the property raises)


def test_the_run_page_names_the_index_file_without_a_link(admin_client, indexed):
    run, _ = indexed
    page = admin_client.get(reverse("admin:recommender_clusterrun_change", args=[run.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert run.space_file.name in text
    assert f"/media/{run.space_file.name}" not in text


def test_the_migration_moves_public_index_files(db, media_root):
    run = ClusterRun.objects.create(n_photos=2, config={})
    name = default_storage.save("index/run-old.npz", ContentFile(b"vectors"))
    ClusterRun.objects.filter(pk=run.pk).update(space_file=name)
    missing = ClusterRun.objects.create(n_photos=2, config={})
    ClusterRun.objects.filter(pk=missing.pk).update(space_file="index/gone.npz")

    from django.apps import apps

    migration = importlib.import_module("recommender.migrations.0008_private_index_files")
    migration.move_index_files(apps, None)

    assert not default_storage.exists(name)
    with storages["index"].open(name) as fh:
        assert fh.read() == b"vectors"
    run.refresh_from_db()
    assert run.space_file.name == name  # the same name, in the private storage
