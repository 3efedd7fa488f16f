"""A processed photo joins the active run without a full re-fit (issue #15, item 1)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile

from photos.models import Photo
from recommender import incremental
from recommender.albums import compute_centroids
from recommender.models import ClusterRun, Membership, Neighbour, RecommenderSettings
from recommender.selectors import similar_to_image, similar_to_photo, space_cache
from recommender.services import REBUILD_LOCK, recluster
from recommender.space import StyleSpace
from tests.helpers.galleries import two_looks
from tests.helpers.images import jpeg_file, styled

K = 20  # the default neighbours per photo: with 13 photos every list holds all the others


@pytest.fixture
def gallery(ingest, settle, settings):
    settings.STYLEFINDER_REFIT_PERCENT = 50  # 12 photos: up to 6 may join before a re-fit
    return two_looks(ingest, settle)


def _active() -> ClusterRun:
    return ClusterRun.objects.get(is_active=True)


def _stored_lists(run: ClusterRun) -> dict[int, list[int]]:
    lists: dict[int, list[int]] = {}
    for photo_id, neighbour_id in (
        Neighbour.objects.filter(run=run)
        .order_by("photo_id", "rank")
        .values_list("photo_id", "neighbour_id")
    ):
        lists.setdefault(photo_id, []).append(neighbour_id)
    return lists


def _exact_lists(space: StyleSpace, k: int) -> dict[int, list[int]]:
    """Every photo's list as the full build ranks it (every photo against every other)."""
    indices, _ = space.all_neighbours(k, approximate=False)
    return {
        int(space.photo_ids[i]): [int(space.photo_ids[j]) for j in row]
        for i, row in enumerate(indices)
    }


def _assert_same_lists(
    stored: dict[int, list[int]], exact: dict[int, list[int]], space: StyleSpace
) -> None:
    """Each stored list is the full build's, position by position, up to photos whose cosines
    with the list's owner tie within float32 rounding (the incremental path multiplies in
    another order, and two looks' photos sit at cosines such as -0.99970 and -0.99969)."""
    assert stored.keys() == exact.keys()
    for photo, expected in exact.items():
        owner = space.rows_at(np.array([space.row(photo)]))[0]

        def cosines(ids: list[int], owner=owner) -> np.ndarray:
            return space.rows_at(np.array([space.row(i) for i in ids])) @ owner

        assert len(stored[photo]) == len(expected)
        np.testing.assert_allclose(cosines(stored[photo]), cosines(expected), atol=1e-5)


def test_a_new_photo_joins_the_run_without_a_refit(gallery, ingest, settle):
    run = _active()
    runs = ClusterRun.objects.count()
    newcomer = ingest(jpeg_file(styled(7, "noir"), "noir-new.jpg"))
    settle()

    assert ClusterRun.objects.count() == runs
    assert RecommenderSettings.load().index_dirty_since is None
    run.refresh_from_db()
    assert (run.is_active, run.n_photos, run.added_photos) == (True, 12, 1)
    membership = Membership.objects.get(run=run, photo=newcomer)
    assert membership.added
    noir_albums = set(
        Membership.objects.filter(run=run, photo__in=gallery["noir"]).values_list(
            "cluster", flat=True
        )
    )
    assert membership.cluster_id in noir_albums
    assert membership.cluster.size == Membership.objects.filter(cluster=membership.cluster).count()

    results = similar_to_photo(newcomer, k=5)
    assert [r.photo for r in results if r.photo in gallery["noir"]] == [r.photo for r in results]
    assert Neighbour.objects.filter(run=run, photo=newcomer).count() == 12
    assert "black & white" in results[0].reasons
    # It is in the lists of the other photos as a full build over the same space ranks them.
    space = space_cache.get(run)
    assert len(space) == 13 and space.row(newcomer.pk) == 12
    _assert_same_lists(_stored_lists(run), _exact_lists(space, K), space)
    assert newcomer in [r.photo for r in similar_to_photo(gallery["noir"][0], k=12)]


def test_another_process_sees_the_added_photos(gallery, ingest, settle):
    newcomer = ingest(jpeg_file(styled(8, "warm"), "warm-new.jpg"))
    settle()
    space_cache.clear()  # a web process that loaded the run before the add
    run = _active()
    space = space_cache.get(run)
    assert space.row(newcomer.pk) is not None and len(space) == 13
    found = similar_to_image(styled(8, "warm"), k=20)
    assert len(found) == 13 and newcomer in [r.photo for r in found]


def test_photos_past_the_budget_cause_a_full_refit(gallery, ingest, settle, settings):
    settings.STYLEFINDER_REFIT_PERCENT = 10  # 12 photos: one may join
    first = _active()
    one = ingest(jpeg_file(styled(9, "noir"), "noir-9.jpg"))
    first.refresh_from_db()
    assert first.added_photos == 1 and RecommenderSettings.load().index_dirty_since is None
    two = ingest(jpeg_file(styled(10, "noir"), "noir-10.jpg"))
    assert RecommenderSettings.load().index_dirty_since is not None
    settle()
    run = _active()
    assert run.pk != first.pk
    assert (run.n_photos, run.added_photos) == (14, 0)
    assert not Membership.objects.filter(run=run, added=True).exists()
    assert {one.pk, two.pk} <= set(run.memberships.values_list("photo_id", flat=True))


def test_zero_percent_turns_incremental_adds_off(gallery, ingest, settle, settings):
    settings.STYLEFINDER_REFIT_PERCENT = 0
    first = _active()
    ingest(jpeg_file(styled(9, "warm"), "warm-9.jpg"))
    assert RecommenderSettings.load().index_dirty_since is not None
    settle()
    assert _active().pk != first.pk and _active().n_photos == 13


def test_an_edit_of_a_photo_in_the_run_still_refits(
    gallery, settle, django_capture_on_commit_callbacks
):
    photo = gallery["noir"][0]
    photo.title = "Renamed"
    with django_capture_on_commit_callbacks(execute=True):
        photo.save()
    assert RecommenderSettings.load().index_dirty_since is not None


def test_a_full_run_in_progress_defers_the_add(gallery, ingest):
    cache.add(REBUILD_LOCK, "1", timeout=60)
    try:
        newcomer = ingest(jpeg_file(styled(11, "noir"), "noir-11.jpg"))
        # The embedded default cannot try again later: the index is marked stale instead.
        assert RecommenderSettings.load().index_dirty_since is not None
        assert not Membership.objects.filter(photo=newcomer).exists()
        with pytest.raises(incremental.LockBusy):
            incremental.add_photos([newcomer.pk])
    finally:
        cache.delete(REBUILD_LOCK)
    assert incremental.add_photos([newcomer.pk]).added == [newcomer.pk]
    assert cache.get(REBUILD_LOCK) is None  # the add let go of the lock


def test_adding_twice_adds_once(gallery, ingest):
    newcomer = ingest(jpeg_file(styled(12, "warm"), "warm-12.jpg"))
    result = incremental.add_photos([newcomer.pk])
    assert result.added == [] and result.message == "Nothing to add."
    assert _active().added_photos == 1


def test_a_run_without_stored_centres_places_the_photo_by_its_members(gallery, ingest):
    run = _active()
    with run.space_file.open("rb") as fh:
        space = StyleSpace.from_bytes(fh.read())
    assert space.centres is not None and len(space.centres.cluster_ids) == run.k
    space.centres = None  # as the index files of runs built before the centres were kept
    run.space_file.save(run.space_file.name.rsplit("/", 1)[-1], ContentFile(space.to_bytes()))
    space_cache.clear()
    means = compute_centroids(run, space)
    newcomer = ingest(jpeg_file(styled(13, "noir"), "noir-13.jpg"))
    grown = space_cache.get(run)
    row = grown.rows_at(len(grown) - 1)
    membership = Membership.objects.get(run=run, photo=newcomer)
    assert membership.cluster_id == means.cluster_ids[np.argmax(means.matrix @ row)]


def test_an_unpublished_photo_does_not_join(gallery, ingest):
    newcomer = ingest(jpeg_file(styled(14, "noir"), "noir-14.jpg"), published=False)
    assert newcomer.status == Photo.Status.READY and not newcomer.published
    assert not Membership.objects.filter(photo=newcomer).exists()
    assert incremental.add_photos([newcomer.pk]).added == []


def test_short_lists_take_the_newcomers_where_a_full_build_would(gallery, ingest, settle):
    settings_row = RecommenderSettings.load()
    settings_row.neighbours_per_photo = 4
    settings_row.save()
    run = recluster().run  # four neighbours a photo
    assert run.config["neighbours_per_photo"] == 4
    before = _stored_lists(run)
    for i, style in enumerate(["noir", "warm", "noir"]):
        ingest(jpeg_file(styled(20 + i, style), f"{style}-{20 + i}.jpg"))
    run.refresh_from_db()
    assert (run.n_photos, run.added_photos) == (12, 3)
    space = space_cache.get(run)
    after = _stored_lists(run)
    _assert_same_lists(after, _exact_lists(space, 4), space)
    assert any(before[pid] != after[pid] for pid in before)  # the newcomers entered lists
    assert all(len(row) == 4 for row in after.values())


def test_the_task_tries_again_while_a_full_run_holds_the_index(gallery, ingest, monkeypatch):
    from recommender import tasks

    cache.add(REBUILD_LOCK, "1", timeout=60)
    newcomer = ingest(jpeg_file(styled(15, "warm"), "warm-15.jpg"))
    retried = []

    def retry(**kwargs):
        retried.append(kwargs)
        return RuntimeError("retry")

    monkeypatch.setattr(tasks, "ADD_WAIT_SECONDS", 0.0)
    monkeypatch.setattr(tasks.add_photos_task, "retry", retry)
    with pytest.raises(RuntimeError):
        tasks.add_photos_task.run([newcomer.pk])
    assert retried[0]["countdown"] == tasks.RETRY_SECONDS
    assert not Membership.objects.filter(photo=newcomer).exists()
    cache.delete(REBUILD_LOCK)
    assert "Added 1 photos" in tasks.add_photos_task.run([newcomer.pk])
    assert Membership.objects.filter(photo=newcomer, added=True).exists()
