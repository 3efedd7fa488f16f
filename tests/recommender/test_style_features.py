"""Style features on images whose properties we know."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from recommender.explain import reasons, style_attributes
from recommender.features.style import FEATURE_NAMES, FEATURES, StyleExtractor, named, style_values
from tests.helpers.images import gradient_image

extractor = StyleExtractor()


def features(image: Image.Image) -> dict[str, float]:
    return named(extractor.extract(image))


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    """A colourful test scene with edges and smooth areas."""
    rng = np.random.default_rng(1)
    base = np.asarray(gradient_image((320, 240), seed=3), dtype=np.float32)
    blocks = np.kron(rng.uniform(0, 255, (6, 8, 3)), np.ones((40, 40, 1)))
    pixels = np.clip(0.6 * base + 0.4 * blocks, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def test_every_feature_is_documented_and_the_vector_matches():
    vector = extractor.extract(gradient_image())
    assert vector.dtype == np.float32
    assert vector.shape == (extractor.dim,) == (len(FEATURES),)
    assert len({name for name, _ in FEATURES}) == len(FEATURES)
    assert all(description.strip() for _, description in FEATURES)
    assert np.isfinite(vector).all()


def test_names_and_values_come_from_one_table(scene):
    values = style_values(scene)
    assert list(FEATURE_NAMES) == [name for name, _ in FEATURES] == list(extractor.feature_names)
    assert set(values) == set(FEATURE_NAMES) and len(values) == extractor.dim
    vector = extractor.extract(scene)
    assert vector.shape == (len(FEATURE_NAMES),)
    np.testing.assert_array_equal(vector, np.float32([values[name] for name in FEATURE_NAMES]))
    # A named lookup returns the value computed for that name, at that name's position.
    by_name = named(vector)
    pixels = np.asarray(scene, dtype=np.float32) / 255.0
    assert by_name["mean_red"] == pytest.approx(pixels[..., 0].mean(), abs=1e-4)
    assert by_name["mean_blue"] == pytest.approx(pixels[..., 2].mean(), abs=1e-4)
    assert by_name["warmth_rb"] == pytest.approx(
        by_name["mean_red"] - by_name["mean_blue"], abs=1e-5
    )
    assert vector[FEATURE_NAMES.index("mean_green")] == by_name["mean_green"]
    assert sum(by_name[f"luminance_hist_{i}"] for i in range(8)) == pytest.approx(1.0, abs=1e-5)
    white = named(extractor.extract(Image.new("RGB", (32, 32), (255, 255, 255))))
    assert white["luminance_mean"] == pytest.approx(100.0, abs=0.01)
    assert white["red_highlights"] == white["blue_highlights"] == 1.0


def test_a_drifting_table_is_caught(monkeypatch):
    from recommender.features import style

    monkeypatch.setattr(style, "style_values", lambda image: {"luminance_mean": 1.0})
    with pytest.raises(AssertionError, match="missing"):
        extractor.extract(gradient_image())


def test_black_and_white_has_no_chroma(scene):
    grey = features(scene.convert("L").convert("RGB"))
    colour = features(scene)
    assert grey["chroma_mean"] < 0.5
    assert grey["neutral_share"] > 0.99
    assert grey["saturation_mean"] < 0.01
    assert colour["chroma_mean"] > 10
    assert "black & white" in style_attributes(extractor.extract(scene.convert("L").convert("RGB")))


def test_darkened_copy_has_a_lower_key(scene):
    dark = ImageEnhance.Brightness(scene).enhance(0.4)
    assert features(dark)["luminance_mean"] < features(scene)["luminance_mean"] - 15
    assert features(dark)["red_shadows"] > features(scene)["red_shadows"]


def test_warmed_copy_is_warmer_and_cooled_copy_cooler(scene):
    pixels = np.asarray(scene, dtype=np.float32)
    warm = Image.fromarray(np.clip(pixels * [1.15, 1.0, 0.8], 0, 255).astype(np.uint8))
    cool = Image.fromarray(np.clip(pixels * [0.8, 1.0, 1.15], 0, 255).astype(np.uint8))
    base = features(scene)
    assert features(warm)["mean_b"] > base["mean_b"] + 3
    assert features(warm)["warmth_rb"] > base["warmth_rb"]
    assert features(cool)["mean_b"] < base["mean_b"] - 3


def test_more_contrast_raises_contrast_features(scene):
    punchy = ImageEnhance.Contrast(scene).enhance(1.8)
    soft = ImageEnhance.Contrast(scene).enhance(0.5)
    assert features(punchy)["luminance_std"] > features(scene)["luminance_std"]
    assert features(soft)["luminance_std"] < features(scene)["luminance_std"]
    assert features(soft)["dynamic_range"] < features(scene)["dynamic_range"]


def test_blur_lowers_sharpness(scene):
    blurred = scene.filter(ImageFilter.GaussianBlur(3))
    assert features(blurred)["sharpness_mean"] < 0.75 * features(scene)["sharpness_mean"]
    assert features(blurred)["sharpness_p99"] < features(scene)["sharpness_p99"]
    assert features(blurred)["laplacian_log_var"] < features(scene)["laplacian_log_var"]


def test_noise_raises_grain(scene):
    rng = np.random.default_rng(0)
    pixels = np.asarray(scene, dtype=np.float32)
    noisy = Image.fromarray(
        np.clip(pixels + rng.normal(0, 18, pixels.shape), 0, 255).astype(np.uint8)
    )
    assert features(noisy)["grain"] > features(scene)["grain"] * 1.5


def test_dominant_hue_is_found():
    red = features(Image.new("RGB", (64, 64), (200, 30, 30)))
    blue = features(Image.new("RGB", (64, 64), (30, 60, 200)))
    green = features(Image.new("RGB", (64, 64), (40, 170, 40)))
    assert red["hue_red"] > 0.9
    assert blue["hue_blue"] + blue["hue_purple"] > 0.9
    assert green["hue_green"] > 0.9
    assert red["hue_concentration"] > 0.99


def test_vignette_is_detected(scene):
    height, width = 240, 320
    yy, xx = np.mgrid[0:height, 0:width]
    radius = np.hypot((yy - height / 2) / (height / 2), (xx - width / 2) / (width / 2))
    mask = np.clip(1.2 - 0.6 * radius, 0.2, 1.0)[..., None]
    vignetted = Image.fromarray((np.asarray(scene, dtype=np.float32) * mask).astype(np.uint8))
    assert features(vignetted)["vignette"] < features(scene)["vignette"] - 10


def test_lifted_blacks_raise_the_black_point(scene):
    pixels = np.asarray(scene, dtype=np.float32)
    faded = Image.fromarray((40 + pixels * (200 / 255)).astype(np.uint8))
    assert features(faded)["black_point"] > features(scene)["black_point"] + 10


def test_split_toning_is_measured():
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.float32), (64, 1))
    rgb = np.stack([ramp, ramp, ramp], axis=2)
    toned = rgb.copy()
    toned[ramp < 90] += [-10, 0, 25]  # blue shadows
    toned[ramp > 170] += [20, 8, -20]  # warm highlights
    result = features(Image.fromarray(np.clip(toned, 0, 255).astype(np.uint8)))
    assert result["shadow_b"] < -5
    assert result["highlight_b"] > 5


def test_result_does_not_depend_on_input_size(scene):
    small = features(scene.resize((160, 120), Image.Resampling.LANCZOS))
    large = features(scene.resize((1280, 960), Image.Resampling.LANCZOS))
    for name in ("luminance_mean", "chroma_mean", "mean_b", "luminance_std"):
        assert small[name] == pytest.approx(large[name], rel=0.1, abs=1.0)


def test_any_mode_and_tiny_images_work():
    for image in (Image.new("L", (3, 2), 128), Image.new("RGBA", (1, 1)), gradient_image((5, 700))):
        vector = extractor.extract(image)
        assert np.isfinite(vector).all()


def test_batch_equals_single(scene):
    images = [scene, scene.convert("L").convert("RGB"), gradient_image()]
    batch = extractor.extract_batch(images)
    assert batch.shape == (3, extractor.dim)
    for row, image in zip(batch, images, strict=True):
        np.testing.assert_allclose(row, extractor.extract(image), rtol=1e-6)


def test_reasons_name_what_two_photos_share(scene):
    bw_dark = ImageEnhance.Brightness(scene.convert("L").convert("RGB")).enhance(0.45)
    bw_dark_2 = ImageEnhance.Brightness(gradient_image((320, 240), "L", 9).convert("RGB")).enhance(
        0.4
    )
    shared = reasons(extractor.extract(bw_dark), extractor.extract(bw_dark_2))
    assert "black & white" in shared
    assert "low-key" in shared
    assert reasons(None, extractor.extract(scene)) == []


def test_pair_reasons_are_the_reasons_of_every_pair():
    """An index build asks `PairReasons` for 20 pairs a photo; it must say what `reasons`
    says, shared attributes and the generic reasons alike."""
    from recommender.explain import PairReasons

    rng = np.random.default_rng(3)
    style = rng.normal(20, 15, (200, len(StyleExtractor.feature_names))).astype(np.float32)
    why = PairReasons(style)
    said = [(why(i, j), reasons(style[i], style[j])) for i in range(200) for j in range(200)]
    assert all(fast == slow for fast, slow in said)
    seen = {tuple(slow) for _, slow in said}
    assert {("similar tones",), ("similar colour palette",), ("similar overall style",)} <= seen
    assert any(reason not in GENERIC for r in seen for reason in r)


GENERIC = {"similar tones", "similar colour palette", "similar overall style"}


def _style(**values: float) -> np.ndarray:
    """A style vector of middling values (no attribute) with `values` set."""
    base = {
        "chroma_mean": 18.0,
        "hue_concentration": 0.5,
        "mean_b": 5.0,
        "warmth_rb": 0.0,
        "luminance_mean": 50.0,
        "luminance_std": 20.0,
        "black_point": 5.0,
        "vignette": 0.0,
    }
    vector = np.zeros(len(FEATURE_NAMES), np.float32)
    for name, value in {**base, **values}.items():
        vector[FEATURE_NAMES.index(name)] = value
    return vector


ATTRIBUTE_CASES = [
    ({}, []),
    ({"chroma_mean": 2.4}, ["black & white"]),
    ({"chroma_mean": 2.5, "hue_concentration": 0.9, "mean_b": 1}, ["sepia-toned"]),
    ({"chroma_mean": 8, "hue_concentration": 0.9, "mean_b": 0}, ["cool-toned monochrome"]),
    ({"chroma_mean": 12, "hue_concentration": 0.9}, []),  # colour: neither toned nor muted
    ({"chroma_mean": 10.9}, ["muted colour"]),
    ({"mean_b": 14, "warmth_rb": 0.089}, []),
    ({"mean_b": 14.5}, ["warm"]),
    ({"mean_b": 15, "warmth_rb": -0.5}, ["warm"]),  # warm is asked first
    ({"mean_b": -1, "warmth_rb": -0.03}, ["cool"]),
    ({"mean_b": -1, "warmth_rb": -0.02}, []),
    ({"chroma_mean": 26}, []),
    ({"chroma_mean": 27}, ["vivid colour"]),
    ({"luminance_mean": 30, "luminance_std": 27}, []),
    ({"luminance_mean": 29.9, "luminance_std": 13.9}, ["low-key", "soft contrast"]),
    ({"luminance_mean": 66.1, "luminance_std": 27.1}, ["high-key", "punchy contrast"]),
    ({"black_point": 12.1, "vignette": -12.1}, ["faded blacks", "vignette"]),
    (
        {"chroma_mean": 2.0, "luminance_mean": 20, "black_point": 13},
        ["black & white", "low-key", "faded blacks"],
    ),
    ({"chroma_mean": float("nan")}, []),  # an unreadable value takes no colour attribute
]


@pytest.mark.parametrize(("values", "expected"), ATTRIBUTE_CASES)
def test_attributes_at_their_thresholds(values, expected):
    assert style_attributes(_style(**values)) == expected


def test_a_whole_gallerys_attributes_are_each_photos():
    """A re-cluster reads every photo's attributes at once (`attribute_lists`); each must be
    what the photo's own `style_attributes` says, in the same order."""
    from recommender.explain import attribute_lists

    cases = np.stack([_style(**values) for values, _ in ATTRIBUTE_CASES])
    rng = np.random.default_rng(5)
    noisy = rng.normal(20, 15, (300, len(FEATURE_NAMES))).astype(np.float32)
    style = np.concatenate([cases, noisy])
    lists, which = attribute_lists(style)
    assert len(set(lists)) == len(lists) and len(which) == len(style)
    assert [list(lists[w]) for w in which] == [style_attributes(row) for row in style]
    assert [list(lists[w]) for w in which[: len(cases)]] == [e for _, e in ATTRIBUTE_CASES]
