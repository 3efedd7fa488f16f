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


def test_deleting_a_photo_or_a_run_and_what_readers_see(photos):
    """The rows' foreign keys carry no database constraint (the deferred checks of 60 million
    references held a million-photo re-cluster's commit for minutes). Django's cascade removes a
    deleted photo's own list and a run's rows. A deleted photo's entries in other lists stay
    (no index on `neighbour`: it halved the rows' COPY) until their run goes; readers never
    see them, and a photo added later does not take the deleted one's id."""
    from recommender.selectors import precomputed_neighbours

    Photo.objects.update(**Photo.public_fields())
    runs = [ClusterRun.objects.create(n_photos=4, config={}) for _ in range(2)]
    ids = [p.pk for p in photos]
    for run in runs:
        insert_neighbours(
            run.pk,
            [(a, b, rank, 0.5, []) for a in ids for rank, b in enumerate(set(ids) - {a}, 1)],
        )
    photos[-1].delete()  # the newest: SQLite would hand its id out again without AUTOINCREMENT
    left = list(Neighbour.objects.values_list("photo_id", "neighbour_id"))
    assert len(left) == 2 * 9 and all(photo != ids[-1] for photo, _ in left)
    assert sum(neighbour == ids[-1] for _, neighbour in left) == 2 * 3
    newcomer = Photo.objects.create(
        title="new", original_filename="new.jpg", sha256="f" * 64, **Photo.public_fields()
    )
    assert newcomer.pk > ids[-1]
    listed = [r.photo.pk for r in precomputed_neighbours(runs[1], photos[0], 10)]
    assert sorted(listed) == ids[1:3]
    runs[0].delete()
    assert set(Neighbour.objects.values_list("run_id", flat=True)) == {runs[1].pk}
    assert Neighbour.objects.count() == 9


def test_memberships_read_back_through_the_orm(photos, monkeypatch):
    from recommender.bulk_rows import insert_memberships
    from recommender.models import Album, Cluster, Membership

    monkeypatch.setattr(bulk_rows, "BATCH", 3)
    run = ClusterRun.objects.create(n_photos=4, config={})
    clusters = [
        Cluster.objects.create(run=run, label=i, album=Album.objects.create(), size=2)
        for i in range(2)
    ]
    rows = [(p.pk, clusters[i % 2].pk, i / 4) for i, p in enumerate(photos)]
    assert insert_memberships(run.pk, iter(rows)) == 4
    stored = Membership.objects.filter(run=run).order_by("photo_id")
    assert [(m.photo_id, m.cluster_id, m.distance, m.added) for m in stored] == [
        (*row, False) for row in rows
    ]
