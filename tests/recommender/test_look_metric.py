"""The learned look metric, the look block of the space, views (modes) of a space."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.blocks import (
    LOOK_BLOCK,
    STYLE_CNN_METRIC,
    STYLE_METRIC,
    SpaceSettings,
    fit_space,
    look_metric_for,
    split_blocks,
)
from recommender.features.style import FEATURE_NAMES
from recommender.look_metric import LookMetric, fit_look_metric, shipped_metric
from recommender.modes import Mode, mode_space, parse_mode, scene_bonus
from recommender.space import StyleSpace


def edits(n_photos: int = 30, n_looks: int = 6, seed: int = 0):
    """Vectors whose first 4 columns carry the look and the next 12 the scene (4× stronger)."""
    rng = np.random.default_rng(seed)
    look_means = rng.normal(0, 1.0, (n_looks, 4))
    scenes = rng.normal(0, 4.0, (n_photos, 12))
    rows, looks, photos = [], [], []
    for p in range(n_photos):
        for g in range(n_looks):
            look_part = look_means[g] + rng.normal(0, 0.1, 4)
            scene_part = scenes[p] + look_means[g][:1].repeat(12) * 0.2 + rng.normal(0, 0.1, 12)
            rows.append(np.concatenate([look_part, scene_part]))
            looks.append(g)
            photos.append(p)
    return np.array(rows), np.array(looks), np.array(photos)


def strict_p_at_k(matrix: np.ndarray, looks: np.ndarray, photos: np.ndarray, k: int = 5) -> float:
    normed = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    scores = normed @ normed.T
    np.fill_diagonal(scores, -np.inf)
    top = np.argsort(-scores, axis=1)[:, :k]
    relevant = (looks[top] == looks[:, None]) & (photos[top] != photos[:, None])
    return float(relevant.mean())


def test_the_metric_puts_the_look_before_the_scene_on_photos_it_never_saw():
    vectors, looks, photos = edits()
    train = photos < 20
    metric = fit_look_metric(
        vectors[train], looks[train], photos[train], inputs=("x",), input_dims=(16,), dims=4
    )
    test = ~train
    raw = strict_p_at_k(vectors[test] - vectors[test].mean(0), looks[test], photos[test])
    projected = metric.project(vectors[test])
    learned = strict_p_at_k(projected - projected.mean(0), looks[test], photos[test])
    assert raw < 0.5  # the scene dominates the raw vectors: the same photo in other looks wins
    assert learned > 0.95


def test_a_metric_survives_its_file_format():
    vectors, looks, photos = edits(10, 3)
    metric = fit_look_metric(
        vectors, looks, photos, inputs=("a", "b"), input_dims=(4, 12), cnn_signature="sig", dims=3
    )
    again = LookMetric.from_bytes(metric.to_bytes())
    assert again.inputs == ("a", "b") and again.input_dims == (4, 12)
    assert again.cnn_signature == "sig"
    np.testing.assert_allclose(
        again.project(vectors), metric.project(vectors), rtol=1e-4, atol=1e-4
    )


def wide_edits(n_photos: int = 12, seed: int = 0, width: int = 40):
    """`edits` whose look columns are replaced by a wide input: the look (and a little scene)
    spread over `width` correlated, noisy columns, like the CNN's channel correlations."""
    rng = np.random.default_rng(seed)
    base, looks, photos = edits(n_photos, 6, seed)
    wide = (
        base[:, :4] @ rng.normal(0, 1, (4, width))
        + base[:, 4:] @ rng.normal(0, 0.1, (12, width))
        + rng.normal(0, 0.5, (len(base), width))
    )
    wide /= np.abs(wide - wide.mean(axis=0)).max()  # within ±1, as correlations are
    return np.concatenate([base[:, 4:], wide], axis=1), looks, photos


def test_a_reduced_input_is_fitted_through_its_principal_components():
    """`reduce` gives the same metric as fitting on the input's principal components by hand
    (whatever the signs of the eigenvectors: compared through the similarities it yields), and
    the fitted metric still reads the raw columns."""
    from sklearn.decomposition import PCA

    vectors, looks, photos = wide_edits()
    train, test = photos < 8, photos >= 8
    reduced = fit_look_metric(
        vectors[train],
        looks[train],
        photos[train],
        inputs=("scene", "wide"),
        input_dims=(12, 40),
        dims=4,
        reduce={"wide": 6},
    )
    assert reduced.projection.shape == (52, 4) and reduced.input_dims == (12, 40)
    # The wide columns enter through their 6 principal axes only.
    wide_rows = reduced.projection[12:]
    pca = PCA(6, whiten=True).fit(vectors[train, 12:])
    residual = wide_rows - pca.components_.T @ np.linalg.lstsq(pca.components_.T, wide_rows)[0]
    assert np.abs(residual).max() < 1e-8 * np.abs(wide_rows).max()

    by_hand_rows = np.concatenate([vectors[:, :12], pca.transform(vectors[:, 12:])], axis=1)
    by_hand = fit_look_metric(
        by_hand_rows[train], looks[train], photos[train], inputs=("x",), input_dims=(18,), dims=4
    )

    def similarities(projected: np.ndarray) -> np.ndarray:
        centred = projected - projected.mean(axis=0)
        return centred @ centred.T

    np.testing.assert_allclose(
        similarities(reduced.project(vectors[test])),
        similarities(by_hand.project(by_hand_rows[test])),
        rtol=1e-6,
        atol=1e-6 * np.abs(similarities(reduced.project(vectors[test]))).max(),
    )


def test_reduce_must_name_an_input():
    vectors, looks, photos = wide_edits(4)
    with pytest.raises(ValueError, match="does not read.*'colour'"):
        fit_look_metric(
            vectors,
            looks,
            photos,
            inputs=("scene", "wide"),
            input_dims=(12, 40),
            reduce={"colour": 3},
        )


def test_fit_refuses_vectors_that_do_not_match_the_inputs():
    vectors, looks, photos = edits(5, 2)
    with pytest.raises(ValueError, match="16 columns"):
        fit_look_metric(vectors, looks, photos, inputs=("x",), input_dims=(10,))


def test_the_shipped_metrics_read_the_current_features():
    style_only = shipped_metric(STYLE_METRIC)
    with_cnn = shipped_metric(STYLE_CNN_METRIC)
    assert style_only is not None and with_cnn is not None, "recommender/data/ is incomplete"
    assert style_only.inputs == ("style",)
    assert style_only.input_dims == (len(FEATURE_NAMES),)
    assert style_only.cnn_signature is None
    assert with_cnn.inputs == ("style", "cnn.style", "cnn.correlations")
    assert with_cnn.input_dims == (len(FEATURE_NAMES), 2 * (32 + 24), 32 * 31 // 2 + 24 * 23 // 2)
    # Fitted on the shared EfficientNet-Lite0's vectors as `CnnExtractor` makes them now
    # (tests/recommender/test_cnn.py checks that signature against the loaded model).
    assert with_cnn.cnn_signature == (
        "efficientnet_lite0_imagenet.keras|224|avg_pool:1280|stem_relu:32,block2_add:24"
        "|correlations"
    )
    for metric in (style_only, with_cnn):
        assert np.isfinite(metric.projection).all() and metric.dims >= 8


def test_a_cnn_metric_is_not_used_for_another_cnn():
    rng = np.random.default_rng(1)
    with_cnn = shipped_metric(STYLE_CNN_METRIC)
    _, stats, correlations = with_cnn.input_dims
    end = 10 + stats + correlations
    blocks = split_blocks(
        {"style": rng.random((3, len(FEATURE_NAMES))), "cnn": rng.random((3, end))},
        {
            "embedding": [0, 10],
            "style_stats": [10, 10 + stats],
            "style_correlations": [10 + stats, end],
        },
    )
    assert look_metric_for(blocks, with_cnn.cnn_signature) is with_cnn
    assert look_metric_for(blocks, "another model|224|avg_pool:1280|x:1") is shipped_metric(
        STYLE_METRIC
    )
    assert look_metric_for({"cnn.style": blocks["cnn.style"]}, None) is None
    # Vectors of the CNN before its correlations (version 1, until re-extracted): style alone.
    before = split_blocks(
        {"style": blocks["style"], "cnn": rng.random((3, 10 + stats))},
        {"embedding": [0, 10], "style_stats": [10, 10 + stats]},
    )
    assert look_metric_for(before, with_cnn.cnn_signature) is shipped_metric(STYLE_METRIC)


def test_the_look_block_is_stored_with_its_inputs_and_embeds_queries_alike():
    rng = np.random.default_rng(2)
    style = rng.random((12, len(FEATURE_NAMES)))
    space = fit_space(np.arange(12), {"style": style}, SpaceSettings())
    assert [b.name for b in space.blocks] == [LOOK_BLOCK]
    assert space.blocks[0].sources == ("style",)
    again = StyleSpace.from_bytes(space.to_bytes())
    assert again.blocks[0].sources == ("style",)
    query = again.embed(split_blocks({"style": style[:2]}))
    np.testing.assert_allclose(query, space.matrix[:2], atol=1e-5)


def test_without_a_fitting_metric_the_look_weight_goes_to_the_style_features(monkeypatch):
    monkeypatch.setattr("recommender.blocks.look_metric_for", lambda blocks, signature: None)
    style = np.random.default_rng(3).random((8, len(FEATURE_NAMES)))
    space = fit_space(np.arange(8), {"style": style}, SpaceSettings())
    assert sorted(b.name for b in space.blocks) == ["style.colour", "style.texture", "style.tone"]


def test_a_view_is_the_space_those_weights_would_build():
    rng = np.random.default_rng(4)
    features = {"a": rng.random((20, 5)), "b": rng.random((20, 7)), "c": rng.random((20, 3))}
    full = StyleSpace.fit(np.arange(20), features, {"a": 1.0, "b": 2.0, "c": 0.5})
    view = full.view({"b": 1.0, "c": 3.0})
    direct = StyleSpace.fit(
        np.arange(20), {"b": features["b"], "c": features["c"]}, {"b": 1.0, "c": 3.0}
    )
    np.testing.assert_allclose(view.matrix, direct.matrix, atol=1e-5)
    np.testing.assert_allclose(view.embed(features)[:3], direct.matrix[:3], atol=1e-5)
    assert full.view({"missing": 1.0}) is None


def test_modes_are_views_with_fallbacks():
    rng = np.random.default_rng(5)
    style = rng.random((10, len(FEATURE_NAMES)))
    space = fit_space(np.arange(10), {"style": style}, SpaceSettings())
    look = mode_space(space, Mode.LOOK)
    assert look is not None and [b.name for b in look.blocks] == [LOOK_BLOCK]
    assert mode_space(space, Mode.SCENE) is None  # no CNN content: no scene to compare
    assert mode_space(space, Mode.DEFAULT) is None  # the default is the space itself
    assert mode_space(space, Mode.LOOK) is look  # computed once


@pytest.mark.parametrize(
    ("text", "mode"),
    [("", Mode.DEFAULT), (None, Mode.DEFAULT), ("LOOK", Mode.LOOK), ("scene", Mode.SCENE)],
)
def test_parse_mode(text, mode):
    assert parse_mode(text) is mode


def test_an_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="default, look, scene"):
        parse_mode("colour")


def test_the_scene_bonus_prefers_the_same_shoot():
    from datetime import datetime, timedelta

    taken = datetime(2024, 5, 1, 12, 0)
    query = (taken, "Fujifilm X-T4", "XF23mm")
    same_hour = scene_bonus(query, (taken + timedelta(hours=1), "Fujifilm X-T4", "XF23mm"))
    next_week = scene_bonus(query, (taken + timedelta(days=7), "Fujifilm X-T4", ""))
    unknown = scene_bonus(query, (None, "", ""))
    assert same_hour > next_week > unknown == 0.0


def test_scene_reasons_name_what_matched():
    from datetime import datetime, timedelta

    from recommender.modes import scene_reasons

    taken = datetime(2024, 5, 1, 12, 0)
    query = (taken, "Fujifilm X-T4", "XF23mm")
    assert scene_reasons(query, (taken + timedelta(hours=3), "Fujifilm X-T4", "XF23mm")) == [
        "similar subject",
        "taken the same day",
        "same camera",
        "same lens",
    ]
    assert scene_reasons(query, (taken + timedelta(days=3), "", "")) == [
        "similar subject",
        "taken the same week",
    ]
    assert scene_reasons(None, (taken, "x", "y")) == ["similar subject"]
