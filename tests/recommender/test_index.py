"""Feature extraction in processing, index builds, and similar photos for pages and uploads."""

from __future__ import annotations

import numpy as np
import pytest

from photos.models import Photo
from photos.services import set_published
from recommender.blocks import SpaceSettings
from recommender.models import ClusterRun, FeatureVector, Neighbour, RecommenderSettings
from recommender.selectors import similar_to_image, similar_to_photo
from recommender.services import recluster
from recommender.space import StyleSpace
from tests.helpers.galleries import two_looks
from tests.helpers.images import jpeg_file, styled


@pytest.fixture
def gallery(ingest, settle):
    return two_looks(ingest, settle)


def test_processing_stores_a_style_vector(gallery):
    photo = gallery["noir"][0]
    assert photo.status == Photo.Status.READY
    vector = FeatureVector.objects.get(photo=photo, extractor="style")
    assert vector.dim == vector.array.shape[0] > 50
    assert np.isfinite(vector.array).all()


def test_the_writer_rebuilds_the_index_and_a_read_only_reads_it(gallery):
    assert RecommenderSettings.load().index_dirty_since is None
    runs = ClusterRun.objects.count()
    results = similar_to_photo(gallery["noir"][0], k=5)
    assert len(results) == 5
    assert ClusterRun.objects.count() == runs
    run = ClusterRun.objects.get(is_active=True)
    assert run.n_photos == 12
    assert run.status == ClusterRun.Status.READY
    assert run.config["space"] == {
        "look_weight": 1.0,
        "style_weight": 0.0,
        "cnn_weight": 0.0,
        "content_weight": 0.05,
        "content_pca": 32,
        "copy_threshold": SpaceSettings().copy_threshold,
    }
    assert run.config["blocks"] == ["look"]  # no CNN here: the style-only look metric
    assert run.config["look_inputs"] == ["style"]


def test_neighbours_share_the_style_and_exclude_the_photo(gallery):
    for photos in gallery.values():
        for photo in photos:
            results = similar_to_photo(photo, k=5)
            assert photo.pk not in [r.photo.pk for r in results]
            same = sum(r.photo in photos for r in results)
            assert same == 5, f"{photo} got {[r.photo for r in results]}"
            assert [r.rank for r in results] == [1, 2, 3, 4, 5]
            assert all(r.thumbnail_url for r in results)
    noir = similar_to_photo(gallery["noir"][0], k=3)
    assert "black & white" in noir[0].reasons


def test_page_neighbours_are_read_in_one_query(gallery, django_assert_num_queries):
    similar_to_photo(gallery["warm"][0], k=5)  # builds the index
    from recommender.selectors import active_run, precomputed_neighbours

    run = active_run()
    with django_assert_num_queries(1):
        results = precomputed_neighbours(run, gallery["warm"][1], 5)
        [r.thumbnail_url for r in results]
        [r.photo.get_absolute_url() for r in results]


def test_hidden_photos_are_never_recommended(gallery, django_capture_on_commit_callbacks):
    similar_to_photo(gallery["noir"][0], k=5)
    hidden = gallery["noir"][1]
    with django_capture_on_commit_callbacks(execute=True):
        set_published([hidden], False)
    results = similar_to_photo(gallery["noir"][0], k=11)
    assert hidden.pk not in [r.photo.pk for r in results]


def test_a_photo_outside_the_run_is_searched_on_the_fly(gallery):
    recluster()
    newcomer = gallery["noir"][2]
    # Simulate a photo processed after the active run was built.
    Neighbour.objects.filter(photo=newcomer).delete()
    Photo.objects.filter(pk=newcomer.pk).update(published=False)
    RecommenderSettings.objects.update(index_dirty_since=None)
    run = ClusterRun.objects.get(is_active=True)
    from recommender.selectors import space_cache

    space = space_cache.get(run)
    keep = space.photo_ids != newcomer.pk
    space_cache.put(run, StyleSpace(space.photo_ids[keep], space.matrix[keep], space.blocks), 0)

    results = similar_to_photo(newcomer, k=4)
    assert len(results) == 4
    assert all(r.photo in gallery["noir"] for r in results)


def test_an_uploaded_image_finds_its_style(gallery):
    query = styled(99, "noir")
    results = similar_to_image(query, k=5)
    assert len(results) == 5
    assert all(r.photo in gallery["noir"] for r in results)
    assert Photo.objects.count() == 12  # the query image is never stored


def test_rebuild_switches_the_active_run_and_prunes_old_ones(gallery):
    first = recluster().run
    for _ in range(4):
        last = recluster().run
    assert ClusterRun.objects.filter(is_active=True).get() == last
    assert ClusterRun.objects.count() <= 3
    assert not ClusterRun.objects.filter(pk=first.pk).exists()
    assert Neighbour.objects.filter(run=first).count() == 0


def test_rebuild_with_too_few_photos_does_nothing(ingest):
    ingest(jpeg_file(styled(1, "warm"), "only.jpg"))
    result = recluster()
    assert result.run is None
    assert "Fewer than two" in result.message
    assert similar_to_photo(Photo.objects.get(), k=5) == []


def test_only_one_build_at_a_time(gallery):
    from django.core.cache import cache

    from recommender.services import REBUILD_LOCK

    cache.add(REBUILD_LOCK, "1", timeout=60)
    try:
        result = recluster()
        assert result.run is None and "Another re-cluster" in result.message
    finally:
        cache.delete(REBUILD_LOCK)


def test_style_weight_is_taken_from_the_settings(gallery):
    RecommenderSettings.objects.update(style_weight=3.5)
    run = recluster().run
    assert run.config["space"]["style_weight"] == 3.5


def test_a_failing_extractor_fails_the_photo_with_the_reason(ingest, monkeypatch):
    from recommender.features.style import StyleExtractor

    def broken(self, image):
        raise ValueError("style extractor exploded")

    monkeypatch.setattr(StyleExtractor, "extract", broken)
    photo = ingest(jpeg_file(styled(1, "warm"), "boom.jpg"))
    assert photo.status == Photo.Status.FAILED
    assert "style extractor exploded" in photo.error
    assert not FeatureVector.objects.filter(photo=photo).exists()
    assert not photo.renditions.exists()


def test_features_of_an_older_extractor_version_are_upgraded_by_the_next_run(gallery):
    from recommender.features import get_extractor

    current = get_extractor("style").version
    old = gallery["noir"][0]
    FeatureVector.objects.filter(photo=old, extractor="style").update(version=current - 1)
    run = recluster().run
    assert FeatureVector.objects.filter(photo=old, extractor="style").count() == 1
    upgraded = FeatureVector.objects.get(photo=old, extractor="style")
    assert upgraded.version == current and np.isfinite(upgraded.array).all()
    assert run.n_photos == 12  # the upgraded photo is indexed, not dropped
    assert similar_to_photo(old, k=3)


def test_vectors_of_many_photos_are_read_without_an_in_list(gallery, monkeypatch):
    """Above IN_LIST_MAX ids every vector is read and the photos not asked for are skipped
    (a million ids in an IN list cost PostgreSQL 11 s); the result is the same either way,
    NaN rows included."""
    from recommender import extraction
    from recommender.features import get_extractor

    style = get_extractor("style")
    photos = sorted(p.pk for p in gallery["noir"] + gallery["warm"])
    asked = [*photos[:5], max(photos) + 1000]  # the last one has no vector
    wanted = [(style.name, style.version)]
    through_in = extraction.load_vectors(asked, wanted)["style"]
    monkeypatch.setattr(extraction, "IN_LIST_MAX", 3)
    read_all = extraction.load_vectors(asked, wanted)["style"]
    assert through_in.shape == read_all.shape == (6, style.dim)
    np.testing.assert_array_equal(through_in, read_all)
    assert np.isnan(read_all[5]).all() and np.isfinite(read_all[:5]).all()
    expected = FeatureVector.objects.get(photo_id=asked[2], extractor="style").array
    np.testing.assert_array_equal(read_all[2], expected)


def test_a_query_against_a_style_only_index_never_loads_the_cnn(gallery, settings, monkeypatch):
    """The run's own extractors only: a query upload must not load the CNN (and TensorFlow,
    ~500 MB per worker) when the index was built without it."""
    from recommender import extraction

    recluster()
    assert ClusterRun.objects.get(is_active=True).config["features"] == ["style"]
    settings.STYLEFINDER_EXTRACTORS = ["style", "cnn"]  # enabled, but not in this run
    checked = []
    real = extraction.extractor_availability
    monkeypatch.setattr(
        extraction, "extractor_availability", lambda name: checked.append(name) or real(name)
    )
    image = styled(40, "noir").convert("RGB")
    assert similar_to_image(image, k=3)
    assert checked == ["style"]


def test_old_runs_rows_are_deleted_in_short_batches(
    gallery, monkeypatch, django_assert_num_queries
):
    from recommender import services
    from recommender.models import Membership

    first = recluster().run
    rows = Neighbour.objects.filter(run=first).count()
    assert rows == 12 * 11  # every photo lists the 11 others
    monkeypatch.setattr(services, "PRUNE_BATCH", 10)
    span = (
        Neighbour.objects.filter(run=first).order_by("-pk").first().pk
        - Neighbour.objects.filter(run=first).order_by("pk").first().pk
    )
    with django_assert_num_queries(1 + span // 10 + 1):  # the bounds, then one per window
        assert services.delete_in_batches(Neighbour.objects.filter(run=first)) == rows
    assert not Neighbour.objects.filter(run=first).exists()
    for _ in range(3):
        recluster()
    assert not ClusterRun.objects.filter(pk=first.pk).exists()
    assert not Membership.objects.filter(run_id=first.pk).exists()
    assert services.delete_in_batches(Neighbour.objects.filter(run_id=first.pk)) == 0
