"""The combined space: weighting, normalisation, search, neighbours, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.space import CopyDetector, StyleSpace


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


@pytest.fixture
def edits():
    """Eight scenes, each in two looks: 'style' says the look (with a little scene in it),
    'content' says the scene (the same for both edits of one scene, up to noise)."""
    rng = np.random.default_rng(3)
    scenes = np.tile(np.arange(8), 2)
    looks = np.repeat(np.arange(2), 8)
    look_centres = rng.normal(0, 3, (2, 10))
    scene_part = rng.normal(0, 1, (8, 10))
    style = look_centres[looks] + 1.5 * scene_part[scenes] + rng.normal(0, 0.1, (16, 10))
    content = rng.normal(0, 1, (8, 24))[scenes] + rng.normal(0, 0.02, (16, 24))
    return np.arange(16), {"style": style, "content": content}, scenes, looks


def _fit_edits(edits, threshold):
    ids, features, _, _ = edits
    copies = (
        None if threshold is None else CopyDetector.fit("content", features["content"], threshold)
    )
    return StyleSpace.fit(ids, features, {"style": 1.0, "content": 2.0}, copies=copies)


@pytest.mark.parametrize("approximate", [False, True])
def test_other_edits_of_a_photo_rank_last_with_their_scores(edits, approximate):
    _, _, scenes, _ = edits
    plain, _ = _fit_edits(edits, None).all_neighbours(15, approximate=approximate)
    # Without the detector, the other edit of a scene is near the top: subject outvotes look.
    assert np.mean([scenes[row[0]] == scenes[i] for i, row in enumerate(plain)]) > 0.5
    space = _fit_edits(edits, 0.9)
    indices, scores = space.all_neighbours(15, approximate=approximate)
    for i, row in enumerate(indices):
        assert scenes[row[-1]] == scenes[i]  # the other edit is last of 15
        assert (scenes[row[:-1]] != scenes[i]).all()
    # The scores stay the similarities: the copy's is the highest, though it is ranked last.
    assert (scores[:, -1] >= scores[:, :-1].max(axis=1) - 1e-6).mean() > 0.5
    np.testing.assert_allclose(
        scores[0], space.matrix[0] @ space.matrix[indices[0]].T, rtol=1e-5, atol=1e-6
    )


def test_search_ranks_a_querys_copies_last_and_only_when_told(edits):
    ids, features, scenes, _ = edits
    space = _fit_edits(edits, 0.9)
    query = space.embed({"style": features["style"][:1], "content": features["content"][:1]})
    copies = space.embed_copies({"content": features["content"][:1]})
    hits = space.search(query, 15, exclude=[{0}], query_copies=copies)[0]
    assert [pid for pid, _ in hits][-1] == 8  # scene 0 in the other look
    assert 8 in [pid for pid, _ in space.search(query, 3, exclude=[{0}])[0]]
    # A query without that block (no CNN for an upload) has no copies to tell.
    assert space.embed_copies({"style": features["style"][:1]}) is None


def test_copies_survive_persistence_and_views_choose(edits):
    space = _fit_edits(edits, 0.9)
    loaded = StyleSpace.from_bytes(space.to_bytes())
    assert loaded.copies.threshold == 0.9 and loaded.copies.name == "content"
    np.testing.assert_array_equal(loaded.copies.rows, space.copies.rows)
    np.testing.assert_array_equal(loaded.all_neighbours(15)[0], space.all_neighbours(15)[0])
    assert space.view({"style": 1.0}).copies is space.copies
    assert space.view({"style": 1.0}, copies_last=False).copies is None
    # Photos without the block are never anybody's copy.
    ids, features, _, _ = edits
    content = features["content"].copy()
    content[8] = np.nan
    detector = CopyDetector.fit("content", content, 0.9)
    holed = StyleSpace.fit(ids, {**features, "content": content}, {"style": 1.0}, copies=detector)
    assert not holed.copies.rows[8].any()
    plain = StyleSpace.fit(ids, {**features, "content": content}, {"style": 1.0})
    np.testing.assert_array_equal(holed.all_neighbours(15)[0][0], plain.all_neighbours(15)[0][0])


def test_copy_rows_keep_exact_cosines_with_the_gallery():
    rng = np.random.default_rng(4)
    centre = np.full(300, 5.0)
    gallery = rng.normal(size=(40, 300)) + centre
    detector = CopyDetector.fit("content", gallery, 0.8, centre)
    assert detector.rows.shape == (40, 40)  # 40 photos span at most 40 of the 300 dimensions

    def unit(x):
        d = x - centre
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    np.testing.assert_allclose(
        detector.rows @ detector.rows.T, unit(gallery) @ unit(gallery).T, atol=1e-5
    )
    queries = rng.normal(size=(3, 300)) + centre
    np.testing.assert_allclose(
        detector.embed(queries) @ detector.rows.T, unit(queries) @ unit(gallery).T, atol=1e-5
    )
    # Without a centre given, the gallery's mean is the centre.
    np.testing.assert_allclose(
        CopyDetector.fit("content", gallery, 0.8).centre, gallery.mean(0), rtol=1e-5
    )


@pytest.mark.parametrize("approximate", [False, True])
def test_neighbours_with_copies_match_a_full_pass_even_when_copies_crowd_the_margin(approximate):
    """The build looks for copies among k + COPY_MARGIN candidates only; a photo with more
    copies than that (40 edits of one frame) is ranked again against every photo."""
    from recommender.space import COPY_MARGIN

    rng = np.random.default_rng(7)
    frame = rng.normal(0, 1, 24)
    content = np.vstack([frame + rng.normal(0, 0.05, (40, 24)), rng.normal(0, 1, (30, 24))])
    style = rng.normal(0, 1, (70, 10))
    style[:40] += 3 * content[:40, :10]  # the edits also look alike: they crowd the top
    features = {"style": style, "content": content}
    detector = CopyDetector.fit("content", content, 0.8)
    space = StyleSpace.fit(np.arange(70), features, {"style": 1.0}, copies=detector)
    assert COPY_MARGIN < 39
    indices, scores = space.all_neighbours(5, chunk=16, approximate=approximate)
    full = space.matrix @ space.matrix.T
    np.fill_diagonal(full, -np.inf)
    ranking = np.where(detector.copies(detector.rows), full - 4.0, full)  # copies after all
    expected = np.argsort(-ranking, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, axis=1), atol=1e-6)
    assert (indices[:40] >= 40).all()  # every edit of the frame lists other photos only


def test_the_approximate_build_spends_a_bounded_effort_on_crowded_photos(monkeypatch, caplog):
    """A gallery where many photos have more edits than the margin must not make the build
    quadratic: past `CROWDED_COMPARISONS` a crowded row is ranked among its own candidates
    (copies last), and the build says how many were."""
    import recommender.space as space_module

    rng = np.random.default_rng(7)
    frame = rng.normal(0, 1, 24)
    content = np.vstack([frame + rng.normal(0, 0.05, (40, 24)), rng.normal(0, 1, (30, 24))])
    style = rng.normal(0, 1, (70, 10))
    style[:40] += 3 * content[:40, :10]
    detector = CopyDetector.fit("content", content, 0.8)
    space = StyleSpace.fit(
        np.arange(70), {"style": style, "content": content}, {"style": 1.0}, copies=detector
    )
    exact, _ = space.all_neighbours(5, approximate=False)
    ranked_against_all = []
    best_of_all = StyleSpace._best_of_all

    def counting(self, rows, take, penalty=None):
        ranked_against_all.extend(rows.tolist())
        return best_of_all(self, rows, take, penalty)

    monkeypatch.setattr(StyleSpace, "_best_of_all", counting)
    monkeypatch.setattr(space_module, "CROWDED_COMPARISONS", 70 * 10)  # ten rows' worth
    with caplog.at_level("WARNING", logger="recommender.space"):
        indices, scores = space.all_neighbours(5, chunk=16, approximate=True)
    assert len(ranked_against_all) == 10
    crowded = sorted(set(range(40)) - set(ranked_against_all))
    assert len(crowded) == 30 and "30 of 70 photos" in caplog.text
    np.testing.assert_array_equal(indices[ranked_against_all], exact[ranked_against_all])
    for row in crowded:  # its candidates hold too few other photos: the edits fill the list
        is_copy = detector.copies(detector.rows[[row]])[0][indices[row]]
        assert is_copy.any() and not (is_copy[:-1] & ~is_copy[1:]).any()  # copies last
        np.testing.assert_allclose(scores[row], space.matrix[indices[row]] @ space.matrix[row],
                                   atol=1e-5)  # fmt: skip
    assert (indices[40:] == exact[40:]).mean() > 0.95  # the other photos are not affected


def test_approximate_neighbours_find_the_exact_ones_with_exact_scores():
    """The inverted-file index gives each photo its candidates; they are ranked and scored as
    the exact build does. `benchmarks/scale.py` measures the recall at the sizes it is for."""
    rng = np.random.default_rng(11)
    centres = rng.normal(0, 1, (40, 24))
    style = centres[rng.integers(40, size=3000)] + rng.normal(0, 0.6, (3000, 24))
    space = StyleSpace.fit(np.arange(3000), {"style": style}, {"style": 1.0})
    exact, _ = space.all_neighbours(10, approximate=False)
    found, scores = space.all_neighbours(10, approximate=True)
    assert not (found == np.arange(3000)[:, None]).any()
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found, strict=True)])
    assert recall >= 0.95
    np.testing.assert_allclose(
        scores, np.einsum("ij,ikj->ik", space.matrix, space.matrix[found]), atol=1e-5
    )
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_rows_the_index_leaves_short_are_searched_exactly():
    from recommender import query_index

    rng = np.random.default_rng(5)
    matrix = rng.normal(0, 1, (200, 8)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    index = query_index.build(matrix)

    class Lossy:  # as if the groups searched had held too few rows for the first five
        def search(self, rows, k):
            distances, found = index.search(rows, k)
            found[:5, 3:] = -1
            return distances, found

    candidates = query_index.others(Lossy(), matrix, 6)
    full = matrix @ matrix.T
    full[np.arange(200), np.arange(200)] = -np.inf
    np.testing.assert_array_equal(candidates[:5], np.argsort(-full[:5], axis=1)[:, :6])
    assert (candidates >= 0).all() and not (candidates == np.arange(200)[:, None]).any()


def test_a_query_crowded_by_its_copies_still_lists_other_photos_first():
    """A query's copies are looked for among its k + COPY_MARGIN best only; with more copies
    than that (40 edits of the queried frame), every photo is checked."""
    rng = np.random.default_rng(8)
    frame = rng.normal(0, 1, 24)
    content = np.vstack([frame + rng.normal(0, 0.05, (40, 24)), rng.normal(0, 1, (30, 24))])
    style = rng.normal(0, 1, (70, 10))
    style[:40] += 3 * content[:40, :10]
    features = {"style": style, "content": content}
    detector = CopyDetector.fit("content", content, 0.8)
    space = StyleSpace.fit(np.arange(70), features, {"style": 1.0}, copies=detector)
    query, copies = space.matrix[:1], detector.rows[:1]
    hits = space.search(query, 8, exclude=[{0}], query_copies=copies)[0]
    scores = (space.matrix @ query[0]).astype(np.float64)
    scores[0] = -np.inf
    expected = np.argsort(-np.where(detector.copies(copies)[0], scores - 4.0, scores))[:8]
    assert [pid for pid, _ in hits] == expected.tolist()
    assert all(pid >= 40 for pid, _ in hits)  # none of the frame's edits
    # Without the detector's rows the edits come first, as they are the most similar.
    assert all(pid < 40 for pid, _ in space.search(query, 8, exclude=[{0}])[0])


def test_large_galleries_fit_on_a_sample_and_embed_in_chunks(blobs, monkeypatch):
    """Above FIT_SAMPLE_ROWS the transforms come from a fixed sample; every photo is embedded,
    EMBED_CHUNK at a time, as it would be in one piece."""
    import recommender.space as space_module

    ids, features, labels = blobs
    content = np.random.default_rng(1).normal(0, 1, (60, 24))
    features = {**features, "content": content}
    weights, pca = {"style": 2, "cnn": 1, "content": 1}, {"cnn": 8}
    whole = StyleSpace.fit(
        ids, features, weights, pca, copies=CopyDetector.fit("content", content, 0.9)
    )
    monkeypatch.setattr(space_module, "FIT_SAMPLE_ROWS", 40)
    monkeypatch.setattr(space_module, "EMBED_CHUNK", 16)
    detector = CopyDetector.fit("content", content, 0.9)
    sampled = StyleSpace.fit(ids, features, weights, pca, copies=detector)
    assert sampled.matrix.shape == whole.matrix.shape and detector.rows.shape[0] == 60
    assert not np.allclose(sampled.blocks[0].mean, whole.blocks[0].mean)  # fitted on 40 rows
    np.testing.assert_allclose(np.linalg.norm(sampled.matrix, axis=1), 1.0, rtol=1e-5)
    monkeypatch.setattr(space_module, "EMBED_CHUNK", 1000)
    np.testing.assert_allclose(sampled.embed(features), sampled.matrix, atol=1e-6)
    np.testing.assert_allclose(detector.embed(content), detector.rows, atol=1e-6)
    indices, _ = sampled.all_neighbours(5)
    assert (labels[indices] == labels[:, None]).mean() > 0.95
