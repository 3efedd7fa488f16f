"""The combined space: weighting, normalisation, search, neighbours, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.space import StyleSpace


@pytest.fixture
def blobs():
    """Three well-separated groups in a 'style' block plus a noisy 'cnn' block."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (3, 12))
    labels = np.repeat(np.arange(3), 20)
    style = centres[labels] + rng.normal(0, 0.5, (60, 12))
    cnn = rng.normal(0, 1, (60, 40))
    return np.arange(100, 160), {"style": style, "cnn": cnn}, labels


def test_rows_are_unit_length(blobs):
    ids, features, _ = blobs
    space = StyleSpace.fit(ids, features, {"style": 2, "cnn": 1}, {"cnn": 8})
    np.testing.assert_allclose(np.linalg.norm(space.matrix, axis=1), 1.0, rtol=1e-5)
    assert space.dim == 12 + 8


def test_neighbours_exclude_self_are_sorted_and_mostly_symmetric(blobs):
    ids, features, labels = blobs
    space = StyleSpace.fit(ids, features, {"style": 2, "cnn": 1}, {"cnn": 8})
    indices, scores = space.all_neighbours(5, chunk=7)  # a chunk size that splits rows unevenly
    assert indices.shape == (60, 5)
    assert not (indices == np.arange(60)[:, None]).any()
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    # With the style block weighted up, neighbours share the group.
    assert (labels[indices] == labels[:, None]).mean() > 0.95
    mutual = np.mean([i in indices[j] for i in range(60) for j in indices[i]])
    assert mutual > 0.6


def test_weight_zero_drops_a_block(blobs):
    ids, features, labels = blobs
    space = StyleSpace.fit(ids, features, {"style": 0, "cnn": 1}, {"cnn": 8})
    assert [b.name for b in space.blocks] == ["cnn"]
    indices, _ = space.all_neighbours(5)
    assert (labels[indices] == labels[:, None]).mean() < 0.6  # cnn block is noise here


def test_search_matches_all_neighbours_and_respects_exclude(blobs):
    ids, features, _ = blobs
    space = StyleSpace.fit(ids, features, {"style": 2, "cnn": 1}, {"cnn": 8})
    indices, _ = space.all_neighbours(4)
    hits = space.search(space.matrix[3], 5, exclude=[{int(ids[3])}])[0]
    assert [pid for pid, _ in hits][:4] == [int(ids[j]) for j in indices[3]]
    assert int(ids[3]) not in [pid for pid, _ in hits]


def test_embedding_a_new_image_finds_its_group(blobs):
    ids, features, labels = blobs
    space = StyleSpace.fit(ids, features, {"style": 2, "cnn": 1}, {"cnn": 8})
    query = {"style": features["style"][:1] + 0.1, "cnn": np.zeros((1, 40))}
    hits = space.search(space.embed(query), 10)[0]
    found = [labels[pid - 100] for pid, _ in hits]
    assert found.count(labels[0]) >= 9


def test_missing_block_rows_are_neutral(blobs):
    ids, features, labels = blobs
    cnn = features["cnn"].copy()
    cnn[:10] = np.nan  # ten photos without CNN vectors
    space = StyleSpace.fit(ids, {"style": features["style"], "cnn": cnn}, {"style": 2, "cnn": 1})
    assert np.isfinite(space.matrix).all()
    only_style = space.embed({"style": features["style"][:1]})
    assert np.isfinite(only_style).all()


def test_round_trip_through_bytes(blobs):
    ids, features, _ = blobs
    space = StyleSpace.fit(ids, features, {"style": 2, "cnn": 1}, {"cnn": 8})
    again = StyleSpace.from_bytes(space.to_bytes())
    np.testing.assert_array_equal(again.photo_ids, space.photo_ids)
    np.testing.assert_allclose(again.matrix, space.matrix)
    np.testing.assert_allclose(again.embed(features), space.embed(features), atol=1e-6)


def test_needs_two_photos():
    with pytest.raises(ValueError, match="two photos"):
        StyleSpace.fit(np.array([1]), {"style": np.ones((1, 4))}, {"style": 1})
