"""Each look has the measurable effect its name promises, with and without jitter."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photos.looks import LOOK_LABELS, LOOKS, apply_look
from tests.helpers.images import gradient_image

SEEDS = range(6)
LOOK_NAMES = [name for name in LOOKS if name != "original"]


def photo() -> Image.Image:
    """A photo-like test image: a colour gradient (dark to light) with a saturated patch."""
    image = gradient_image((120, 90), seed=3)
    pixels = np.asarray(image).copy()
    pixels[30:60, 40:80] = (200, 70, 40)  # an orange-red object
    pixels[65:85, 10:50] = (40, 90, 170)  # and a blue one
    return Image.fromarray(pixels, "RGB")


def rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def luminance(image: Image.Image) -> np.ndarray:
    return rgb(image) @ np.array([0.299, 0.587, 0.114])


def saturation(image: Image.Image) -> float:
    return float(np.asarray(image.convert("HSV"), dtype=np.float64)[..., 1].mean())


def warmth(image: Image.Image) -> float:
    pixels = rgb(image)
    return float((pixels[..., 0] - pixels[..., 2]).mean())


def dark_share(image: Image.Image) -> float:
    return float((luminance(image) < 64).mean())


def variants(name: str):
    """The canonical look, then jittered versions with several seeds."""
    yield apply_look(photo(), name)
    for seed in SEEDS:
        yield apply_look(photo(), name, np.random.default_rng(seed))


@pytest.mark.parametrize("name", list(LOOKS))
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P"])
def test_size_and_mode_preserved(name, mode):
    source = photo().resize((73, 41)).convert(mode)
    for rng in (None, np.random.default_rng(0)):
        out = apply_look(source, name, rng)
        assert out.mode == "RGB"
        assert out.size == (73, 41)


def test_every_look_has_a_label_and_a_function():
    assert set(LOOK_LABELS) == set(LOOKS)
    assert {"black_white", "sepia", "warm", "cool", "high_key", "low_key", "faded", "vivid"} <= set(
        LOOKS
    )
    assert all(callable(look) for look in LOOKS.values())


def test_original_is_the_identity():
    source = photo()
    assert np.array_equal(rgb(apply_look(source, "original")), rgb(source))
    assert np.array_equal(
        rgb(apply_look(source, "original", np.random.default_rng(1))), rgb(source)
    )


def test_unknown_look_is_a_key_error():
    with pytest.raises(KeyError, match="Unknown look"):
        apply_look(photo(), "lomo")


def test_black_white_has_no_chroma():
    for out in variants("black_white"):
        pixels = rgb(out)
        assert np.abs(pixels[..., 0] - pixels[..., 1]).max() <= 1
        assert np.abs(pixels[..., 1] - pixels[..., 2]).max() <= 1
    # ...and a contrast curve: it spreads the tones more than a plain grey conversion.
    plain = luminance(photo())
    assert luminance(apply_look(photo(), "black_white")).std() > plain.std()


def test_sepia_tones_mid_grey_brown():
    grey = Image.new("RGB", (16, 16), (128, 128, 128))
    for out in [apply_look(grey, "sepia")] + [
        apply_look(grey, "sepia", np.random.default_rng(seed)) for seed in SEEDS
    ]:
        r, g, b = rgb(out)[8, 8]
        assert r > g > b
        assert r - b > 30  # clearly toned, not a faint cast


def test_sepia_is_monochrome_toning():
    """One hue for the whole photo: the blue patch turns brown like everything else."""
    for out in variants("sepia"):
        pixels = rgb(out)
        assert (pixels[..., 0] >= pixels[..., 1] - 1).all()
        assert (pixels[..., 1] >= pixels[..., 2] - 1).all()


def test_warm_raises_red_minus_blue():
    before = warmth(photo())
    for out in variants("warm"):
        assert warmth(out) > before + 10


def test_cool_lowers_red_minus_blue():
    before = warmth(photo())
    for out in variants("cool"):
        assert warmth(out) < before - 10


def test_high_key_is_brighter_with_fewer_dark_pixels():
    before = photo()
    for out in variants("high_key"):
        assert luminance(out).mean() > luminance(before).mean() + 30
        assert dark_share(out) < dark_share(before) / 2


def test_low_key_is_darker_with_more_dark_pixels():
    before = photo()
    for out in variants("low_key"):
        assert luminance(out).mean() < luminance(before).mean() - 20
        assert dark_share(out) > dark_share(before)


def test_faded_lifts_the_blacks_and_mutes_the_colours():
    before = photo()
    for out in variants("faded"):
        assert np.percentile(luminance(out), 1) > np.percentile(luminance(before), 1) + 15
        assert luminance(out).min() > luminance(before).min() + 15
        assert saturation(out) < saturation(before) * 0.8


def test_vivid_raises_saturation_and_contrast():
    before = photo()
    for out in variants("vivid"):
        assert saturation(out) > saturation(before) * 1.15
        assert luminance(out).std() > luminance(before).std()


@pytest.mark.parametrize("name", LOOK_NAMES)
def test_jitter_changes_the_output_and_is_reproducible(name):
    source = photo()
    canonical = rgb(apply_look(source, name))
    first = rgb(apply_look(source, name, np.random.default_rng(42)))
    again = rgb(apply_look(source, name, np.random.default_rng(42)))
    other = rgb(apply_look(source, name, np.random.default_rng(43)))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, canonical)
    assert not np.array_equal(first, other)
    # Without an rng a look is one fixed filter.
    assert np.array_equal(canonical, rgb(apply_look(source, name)))


def test_looks_are_distinct_from_each_other():
    """Every pair of looks differs visibly on the same photo (benchmark style groups)."""
    source = photo()
    outputs = {name: rgb(apply_look(source, name)) for name in LOOKS}
    names = list(outputs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            difference = np.abs(outputs[a] - outputs[b]).mean()
            assert difference > 8, f"{a} and {b} are too alike ({difference:.1f})"


def test_looks_do_not_modify_their_input():
    source = photo()
    before = rgb(source).copy()
    for name in LOOKS:
        apply_look(source, name, np.random.default_rng(0))
    assert np.array_equal(rgb(source), before)
