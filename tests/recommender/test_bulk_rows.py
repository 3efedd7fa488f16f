"""Neighbour rows written in bulk (COPY on PostgreSQL, executemany elsewhere) read back through
the ORM exactly as `bulk_create` would have written them."""

from __future__ import annotations

import pytest
from django.db import transaction

from photos.models import Photo
from recommender import bulk_rows
from recommender.bulk_rows import insert_neighbours
from recommender.models import ClusterRun, Neighbour


@pytest.fixture
def photos(db):
    return Photo.objects.bulk_create(
        Photo(title=f"p{i}", original_filename=f"p{i}.jpg", sha256=f"{i:064x}") for i in range(4)
    )


def test_rows_read_back_through_the_orm(photos, monkeypatch):
    monkeypatch.setattr(bulk_rows, "BATCH", 3)  # several executemany batches on SQLite
    run = ClusterRun.objects.create(n_photos=4, config={})
    ids = [p.pk for p in photos]
    rows = [
        (a, b, rank, 1.0 - rank / 10, ["warm", "high contrast"] if rank == 1 else ["grain"])
        for a in ids
        for rank, b in enumerate([x for x in ids if x != a], start=1)
    ]
    assert insert_neighbours(run.pk, iter(rows)) == 12
    stored = Neighbour.objects.filter(run=run).order_by("photo_id", "rank")
    assert [(n.photo_id, n.neighbour_id, n.rank, n.score, n.reasons) for n in stored] == rows


def test_rows_are_part_of_the_callers_transaction(photos):
    run = ClusterRun.objects.create(n_photos=4, config={})
    with pytest.raises(RuntimeError), transaction.atomic():
        insert_neighbours(run.pk, [(photos[0].pk, photos[1].pk, 1, 0.5, ["warm"])])
        raise RuntimeError("the run failed after its rows")
    assert not Neighbour.objects.filter(run=run).exists()


def test_a_broken_row_fails_loudly_and_writes_nothing(photos):
    run = ClusterRun.objects.create(n_photos=4, config={})
    rows = [(photos[0].pk, photos[1].pk, 1, 0.5, []), (photos[0].pk, photos[2].pk, 1, 0.4, [])]
    with pytest.raises(Exception, match="(?i)unique"), transaction.atomic():
        insert_neighbours(run.pk, rows)  # the same rank twice: the unique constraint says no
    assert not Neighbour.objects.filter(run=run).exists()
