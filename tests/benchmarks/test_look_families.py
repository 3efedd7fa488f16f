"""The look families of the style-set benchmark: each look does what its name promises.

The independent families (pillow-lut, albumentations, pilgram, the numpy/scikit-image recipes,
Pillow's own operations) exist so that the retrieval
benchmark is not scored only on the looks the features were designed against; these tests check
that every look is the edit its label says (a mislabelled look would make the benchmark measure
noise), that its parameters really vary with the generator, and that the sets are reproducible.
Their libraries are pinned in requirements-dev.txt (scikit-image and Pillow in requirements.txt):
a missing one fails here, it is not skipped.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2lab

from benchmarks import make_style_set
from benchmarks.look_families import FAMILIES, get_family
from benchmarks.look_families.grades import GRADE_OF, Grade

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(4)  # the property must hold over the parameter ranges, not for one draw
INDEPENDENT = ["lut", "albumentations", "pilgram", "recipes", "pillow"]
ALL_LOOKS = [(family, look) for family in FAMILIES for look in FAMILIES[family].looks]


def photo(width: int = 64, height: int = 48) -> Image.Image:
    """Every hue across, dark (v 0.04) to light (v 0.98) down, medium saturation.

    Medium saturation leaves room for a vivid look to raise it; the dark rows give a faded look
    blacks to lift.
    """
    x = np.linspace(0, 1, width, endpoint=False)[None, :].repeat(height, 0)
    y = np.linspace(0, 1, height)[:, None].repeat(width, 1)
    hsv = np.stack([x, 0.25 + 0.45 * (1 - y), 0.04 + 0.94 * y], axis=-1)
    return Image.fromarray((hsv * 255).astype(np.uint8), "HSV").convert("RGB")


def rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def luminance(image: Image.Image) -> np.ndarray:
    return rgb(image) @ np.array([0.299, 0.587, 0.114])


def warmth(image: Image.Image) -> float:
    pixels = rgb(image)
    return float((pixels[..., 0] - pixels[..., 2]).mean())


def saturation(image: Image.Image) -> float:
    return float(np.asarray(image.convert("HSV"), dtype=np.float64)[..., 1].mean())


def spread(image: Image.Image) -> float:
    """Largest difference between two channels of a pixel: 0 for a neutral grey image."""
    pixels = rgb(image)
    return float((pixels.max(axis=-1) - pixels.min(axis=-1)).max())


def chroma(image: Image.Image) -> float:
    """Mean CIELAB chroma (C*): how colourful, independent of brightness."""
    lab = rgb2lab(rgb(image) / 255)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def detail(image: Image.Image) -> float:
    """Mean absolute fine detail of the luminance (what a blur removes, a sharpen adds)."""
    lum = luminance(image)
    return float(np.abs(lum - ndimage.gaussian_filter(lum, 1.0)).mean())


def tone_masks(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """The darkest and the brightest quarter of the pixels of ``image``."""
    lum = luminance(image)
    return lum < np.percentile(lum, 25), lum > np.percentile(lum, 75)


def hue_spread(image: Image.Image) -> float:
    """Circular standard deviation of the hue (degrees) over the pixels with some colour."""
    hsv = np.asarray(image.convert("HSV"), dtype=np.float64)
    pixels = rgb(image)
    coloured = (pixels.max(axis=-1) - pixels.min(axis=-1)) > 8
    if not coloured.any():
        return 0.0
    angles = hsv[..., 0][coloured] / 256 * 2 * np.pi
    length = np.hypot(np.cos(angles).mean(), np.sin(angles).mean())
    return float(np.degrees(np.sqrt(-2 * np.log(length))))


# --- what each look promises, as (original, output) -> bool ---------------------------------------


def is_bw(orig: Image.Image, out: Image.Image) -> bool:
    return spread(out) < 3


def is_sepia(orig: Image.Image, out: Image.Image) -> bool:
    # A toned monochrome: red over blue everywhere (R >= G >= B), one hue, not the photo's hues.
    pixels = rgb(out)
    ordered = (pixels[..., 0] >= pixels[..., 1] - 2) & (pixels[..., 1] >= pixels[..., 2] - 2)
    red_over_blue = pixels[..., 0].mean() > pixels[..., 2].mean() + 8
    return red_over_blue and ordered.mean() > 0.97 and hue_spread(out) < 15


def is_warmer(orig: Image.Image, out: Image.Image) -> bool:
    return warmth(out) > warmth(orig) + 5


def is_cooler(orig: Image.Image, out: Image.Image) -> bool:
    return warmth(out) < warmth(orig) - 5


def is_brighter(orig: Image.Image, out: Image.Image) -> bool:
    return luminance(out).mean() > luminance(orig).mean() + 10


def is_darker(orig: Image.Image, out: Image.Image) -> bool:
    return luminance(out).mean() < luminance(orig).mean() - 10


def is_faded(orig: Image.Image, out: Image.Image) -> bool:
    lifted = np.percentile(luminance(out), 1) > np.percentile(luminance(orig), 1) + 8
    flatter = luminance(out).std() < 0.9 * luminance(orig).std()
    return lifted or flatter


def is_more_saturated(orig: Image.Image, out: Image.Image) -> bool:
    return saturation(out) > saturation(orig) + 10


def is_less_saturated(orig: Image.Image, out: Image.Image) -> bool:
    return saturation(out) < saturation(orig) - 10


def is_greyish(orig: Image.Image, out: Image.Image) -> bool:
    return saturation(out) < 0.4 * saturation(orig)


def has_more_contrast(orig: Image.Image, out: Image.Image) -> bool:
    return luminance(out).std() > 1.05 * luminance(orig).std()


def lifts_blacks(orig: Image.Image, out: Image.Image) -> bool:
    return np.percentile(luminance(out), 1) > np.percentile(luminance(orig), 1) + 4


def has_less_chroma(orig: Image.Image, out: Image.Image) -> bool:
    return chroma(out) < 0.9 * chroma(orig)


def has_low_chroma(orig: Image.Image, out: Image.Image) -> bool:
    return chroma(out) < 0.4 * chroma(orig)


def is_matte(orig: Image.Image, out: Image.Image) -> bool:
    # Black point raised and white point lowered: nothing reaches black or white.
    raised = np.percentile(luminance(out), 1) > np.percentile(luminance(orig), 1) + 8
    lowered = np.percentile(luminance(out), 99) < np.percentile(luminance(orig), 99) - 8
    return raised and lowered


def _shift_by_tone(orig: Image.Image, out: Image.Image, measure) -> tuple[float, float]:
    """How ``measure(pixels)`` changed in the original's shadows and in its highlights."""
    change = measure(rgb(out)) - measure(rgb(orig))
    shadows, highlights = tone_masks(orig)
    return float(change[shadows].mean()), float(change[highlights].mean())


def cool_shadows_warm_highlights(orig: Image.Image, out: Image.Image) -> bool:
    # Red minus blue down in the shadows and up in the highlights: a split of two tints.
    shadows, highlights = _shift_by_tone(orig, out, lambda p: p[..., 0] - p[..., 2])
    return shadows < -5 and highlights > 5


def blue_shadows_yellow_highlights(orig: Image.Image, out: Image.Image) -> bool:
    # Cross processing: the flat blue curve lifts blue in the shadows, cuts it in the highlights.
    def blue(pixels: np.ndarray) -> np.ndarray:
        return pixels[..., 2] - (pixels[..., 0] + pixels[..., 1]) / 2

    shadows, highlights = _shift_by_tone(orig, out, blue)
    return shadows > 10 and highlights < -10


def is_sepia_toned(orig: Image.Image, out: Image.Image) -> bool:
    # The sepia matrix at amount >= 0.7: warmer, and R >= G >= B for nearly every pixel.
    pixels = rgb(out)
    ordered = (pixels[..., 0] >= pixels[..., 1] - 2) & (pixels[..., 1] >= pixels[..., 2] - 2)
    return warmth(out) > warmth(orig) + 20 and ordered.mean() > 0.7


def is_duotone(orig: Image.Image, out: Image.Image) -> bool:
    # Every pixel on the line between two colours (the darkest and the brightest pixel), and
    # those two are not greys of one line through black and white.
    pixels = rgb(out).reshape(-1, 3)
    lum = luminance(out).ravel()
    dark, light = pixels[lum.argmin()], pixels[lum.argmax()]
    direction = (light - dark) / np.linalg.norm(light - dark)
    offsets = pixels - dark
    off_line = offsets - np.outer(offsets @ direction, direction)
    return np.linalg.norm(off_line, axis=1).max() < 3 and spread(out) > 20


def corner_ratio(image: Image.Image) -> float:
    """Mean luminance of the four corner blocks over that of the central block."""
    lum = luminance(image)
    h, w = lum.shape[0] // 4, lum.shape[1] // 4
    corners = np.concatenate(
        [block.ravel() for block in (lum[:h, :w], lum[:h, -w:], lum[-h:, :w], lum[-h:, -w:])]
    )
    centre = lum[2 * h - h // 2 : 2 * h + h // 2, 2 * w - w // 2 : 2 * w + w // 2]
    return float(corners.mean() / centre.mean())


def has_vignette(orig: Image.Image, out: Image.Image) -> bool:
    return corner_ratio(out) < 0.9 * corner_ratio(orig)


def is_toned(orig: Image.Image, out: Image.Image) -> bool:
    # A toned monochrome: one hue (brown or blue), but not grey.
    return hue_spread(out) < 15 and spread(out) > 20


def is_posterized(orig: Image.Image, out: Image.Image) -> bool:
    pixels = np.asarray(out)
    return all(len(np.unique(pixels[..., c])) <= 32 for c in range(3))


def is_solarized(orig: Image.Image, out: Image.Image) -> bool:
    # The brightest tenth of the photo turned back towards grey: the tone curve is not monotone.
    lum = luminance(orig)
    brightest = lum > np.percentile(lum, 90)
    return (lum[brightest] - luminance(out)[brightest]).mean() > 30


Check = Callable[[Image.Image, Image.Image], bool]

EIGHT: dict[str, list[Check]] = {
    "bw": [is_bw],
    "sepia": [is_sepia],
    "warm": [is_warmer],
    "cool": [is_cooler],
    "high_key": [is_brighter],
    "low_key": [is_darker],
    "faded": [is_faded],
    "vivid": [is_more_saturated],
}
PROMISES: dict[str, dict[str, list[Check]]] = {
    "looks": {("black_white" if name == "bw" else name): checks for name, checks in EIGHT.items()},
    "lut": EIGHT,
    "albumentations": EIGHT,
    # pilgram: what each filter's CSS recipe does (pilgram/<filter>.py), at strength >= 0.75.
    "pilgram": {
        "1977": [is_brighter, is_warmer],  # screen with pink, brightness 1.1
        "aden": [is_brighter, is_less_saturated],  # brightness 1.2, saturate 0.85
        "brannan": [has_more_contrast, is_warmer],  # sepia 0.5, contrast 1.4
        "clarendon": [has_more_contrast, is_more_saturated],  # contrast 1.2, saturate 1.35
        "earlybird": [is_warmer],  # overlay of a warm radial gradient, sepia 0.2
        "gingham": [is_brighter, is_less_saturated],  # soft light with lavender, brightness
        "inkwell": [is_greyish],  # grayscale
        "lofi": [has_more_contrast, is_more_saturated],  # contrast 1.5, saturate 1.1
        "nashville": [lifts_blacks],  # lighten with a blue fill: tinted shadows
        "toaster": [is_warmer, lifts_blacks],  # screen with an orange-to-purple gradient
    },
    "recipes": {
        "bleach_bypass": [is_less_saturated, has_more_contrast],
        "cross_process": [blue_shadows_yellow_highlights],
        "teal_orange": [cool_shadows_warm_highlights],
        "matte": [is_matte],
        "split_tone": [cool_shadows_warm_highlights],  # cyan-violet shadows, orange-gold lights
        "sepia_matrix": [is_sepia_toned],
        "duotone": [is_duotone],
        "lomo": [has_vignette, is_more_saturated],
        "silver": [has_low_chroma, is_cooler],
        "golden_hour": [is_warmer, lifts_blacks],
    },
    "pillow": {
        "mono": [is_bw],
        "toned": [is_toned],
        "washed": [is_faded, is_less_saturated],
        "punchy": [is_more_saturated],
        "dark_moody": [is_darker, has_less_chroma],
        "dreamy": [is_brighter],  # and blurred: test_look_changes_the_fine_detail
        "retro_poster": [is_posterized],
        "solar": [is_solarized],
    },
}


def grade_promises(grade: Grade) -> list[Check]:
    """What a random grade's controls promise: less colour when it is monochrome or
    desaturated, lifted blacks when it is faded."""
    checks: list[Check] = []
    if grade.mono or grade.saturation < 0.6:
        checks.append(is_less_saturated)
    if grade.black > 0.12:
        checks.append(is_faded)
    return checks


PROMISES["grades"] = {name: grade_promises(grade) for name, grade in GRADE_OF.items()}


def render(family: str, look: str, seed: int, image: Image.Image | None = None) -> Image.Image:
    return FAMILIES[family].looks[look](image or photo(), np.random.default_rng(seed))


def test_registry_lists_the_families():
    assert list(FAMILIES) == [
        "looks", "lut", "albumentations", "pilgram", "recipes", "pillow", "grades"
    ]  # fmt: skip
    assert set(FAMILIES["looks"].looks) == {
        "black_white", "sepia", "warm", "cool", "high_key", "low_key", "faded", "vivid"
    }  # fmt: skip
    for name in ("lut", "albumentations"):
        assert list(FAMILIES[name].looks) == list(EIGHT)
    assert len(FAMILIES["pilgram"].looks) == 10
    assert list(FAMILIES["recipes"].looks) == [
        "bleach_bypass", "cross_process", "teal_orange", "matte", "split_tone",
        "sepia_matrix", "duotone", "lomo", "silver", "golden_hour",
    ]  # fmt: skip
    assert list(FAMILIES["pillow"].looks) == [
        "mono", "toned", "washed", "punchy", "dark_moody", "dreamy", "retro_poster", "solar"
    ]  # fmt: skip
    assert list(FAMILIES["grades"].looks) == [f"g{i:02d}" for i in range(40)]
    assert {family: set(looks) for family, looks in PROMISES.items()} == {
        name: set(family.looks) for name, family in FAMILIES.items()
    }


def test_get_family_names_the_known_ones():
    assert get_family("lut") is FAMILIES["lut"]
    with pytest.raises(
        ValueError, match="looks, lut, albumentations, pilgram, recipes, pillow, grades"
    ):
        get_family("nope")


@pytest.mark.parametrize("family", INDEPENDENT)
def test_independent_libraries_are_pinned_and_installed(family):
    """The benchmark names the library version its sets came from: it must be the one installed.

    requirements-dev.txt includes requirements.txt, where the runtime libraries (scikit-image,
    Pillow) of ``recipes`` and ``pillow`` are pinned.
    """
    pin = FAMILIES[family].library
    name, pinned = pin.split("==")
    pins = [
        line
        for requirements in ("requirements-dev.txt", "requirements.txt")
        for line in (ROOT / requirements).read_text().splitlines()
    ]
    assert pin in pins
    assert version(name) == pinned


@pytest.mark.parametrize(("family", "look"), ALL_LOOKS)
def test_look_is_rgb_same_size_and_changes_the_image(family, look):
    original = photo()
    for seed in SEEDS:
        out = render(family, look, seed, original)
        assert out.mode == "RGB"
        assert out.size == original.size
        assert np.abs(rgb(out) - rgb(original)).mean() > 3


@pytest.mark.parametrize(("family", "look"), ALL_LOOKS)
def test_look_keeps_its_promise(family, look):
    original = photo()
    for seed in SEEDS:
        out = render(family, look, seed, original)
        for check in PROMISES[family][look]:
            assert check(original, out), f"{family}/{look} seed {seed}: not {check.__name__}"


def test_random_grades_are_many_and_each_a_look():
    """A grade is fixed (the same on every photo); its jitter moves an image less than another
    grade does, so the 40 grades are 40 looks, not noise."""
    grades = list(GRADE_OF.values())
    assert len(set(grades)) == 40
    assert 3 <= sum(grade.mono for grade in grades) <= 15
    original = photo()
    renders = {name: rgb(render("grades", name, 0, original)) for name in GRADE_OF}
    for name in GRADE_OF:
        jitter = np.abs(rgb(render("grades", name, 1, original)) - renders[name]).mean()
        others = [np.abs(renders[other] - renders[name]).mean() for other in GRADE_OF]
        assert jitter < np.median([d for d in others if d > 0]), name
    covered = sum(bool(checks) for checks in PROMISES["grades"].values())
    assert covered >= 10  # the promises test below checks these grades for what they claim


def textured() -> Image.Image:
    """The test photo with fixed grain: fine detail for a blur to remove or a sharpen to raise."""
    grain = np.random.default_rng(0).normal(0.0, 12.0, (48, 64, 1))
    return Image.fromarray(np.clip(rgb(photo()) + grain, 0, 255).astype(np.uint8), "RGB")


@pytest.mark.parametrize(
    ("family", "look", "low", "high"),
    [
        ("pillow", "dreamy", 0.0, 0.6),  # a soft blur blended over the photo
        ("pillow", "punchy", 1.1, np.inf),  # ImageEnhance.Sharpness 1.5..3
        ("recipes", "silver", 1.2, np.inf),  # unsharp mask: local contrast
    ],
)
def test_look_changes_the_fine_detail(family, look, low, high):
    original = textured()
    for seed in SEEDS:
        ratio = detail(render(family, look, seed, original)) / detail(original)
        assert low < ratio < high, f"{family}/{look} seed {seed}: detail x{ratio:.2f}"


@pytest.mark.parametrize(("family", "look"), ALL_LOOKS)
def test_look_parameters_come_from_the_generator(family, look):
    same = [rgb(render(family, look, 7)) for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    assert not np.array_equal(rgb(render(family, look, 1)), rgb(render(family, look, 2)))


def test_grey_input_stays_valid():
    """A look must accept any PIL image: a greyscale photo is converted, not rejected."""
    grey = photo().convert("L")
    for family, look in ALL_LOOKS:
        out = FAMILIES[family].looks[look](grey, np.random.default_rng(0))
        assert out.mode == "RGB" and out.size == grey.size, (family, look)


def test_registry_does_not_import_the_benchmark_libraries():
    """``--family looks`` must work on an install without the benchmark-only pins."""
    code = """
import sys
for name in ("pillow_lut", "albumentations", "pilgram", "cv2"):
    sys.modules[name] = None  # any import of them now raises ImportError
import numpy as np
from PIL import Image
from benchmarks import make_style_set
from benchmarks.look_families import FAMILIES
image = Image.new("RGB", (16, 12), (120, 80, 40))
FAMILIES["looks"].looks["warm"](image, np.random.default_rng(0))
try:
    FAMILIES["lut"].looks["warm"](image, np.random.default_rng(0))
except ImportError as exc:
    print(exc)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "look family 'lut' needs pillow-lut==1.1.0" in result.stdout


def write_sources(folder: Path) -> None:
    folder.mkdir()
    photo(40, 30).save(folder / "alpha.png")
    photo(30, 40).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "beta.jpg", quality=95)
    (folder / "notes.txt").write_text("not an image")


def test_build_writes_every_look_of_the_family(tmp_path):
    write_sources(tmp_path / "src")
    labels = make_style_set.build(tmp_path / "src", tmp_path / "out", family="lut", size=32)
    with labels.open(newline="") as fh:
        rows = list(csv.reader(fh))
    looks = list(FAMILIES["lut"].looks)
    assert rows[0] == ["filename", "group", "source"]
    assert rows[1:] == [
        [f"{stem}__{look}.jpg", look, stem] for stem in ("alpha", "beta") for look in looks
    ]
    for name, _, _ in rows[1:]:
        with Image.open(tmp_path / "out" / name) as image:
            assert image.mode == "RGB" and max(image.size) == 32


def test_build_is_reproducible_and_takes_a_subset(tmp_path):
    write_sources(tmp_path / "src")
    first = make_style_set.build(tmp_path / "src", tmp_path / "a", ["warm", "bw"], family="lut")
    again = make_style_set.build(tmp_path / "src", tmp_path / "b", ["bw"], family="lut")
    names = [row[0] for row in csv.reader(first.open())][1:]
    assert names == ["alpha__warm.jpg", "alpha__bw.jpg", "beta__warm.jpg", "beta__bw.jpg"]
    # A file depends only on (seed, source, look): rendering fewer looks does not change it.
    for name in ("alpha__bw.jpg", "beta__bw.jpg"):
        assert (first.parent / name).read_bytes() == (again.parent / name).read_bytes()


def test_build_rejects_a_look_of_another_family(tmp_path):
    write_sources(tmp_path / "src")
    with pytest.raises(SystemExit, match="has no look black_white"):
        make_style_set.build(tmp_path / "src", tmp_path / "out", ["black_white"], family="lut")
    with pytest.raises(SystemExit, match="Unknown look family"):
        make_style_set.build(tmp_path / "src", tmp_path / "out", family="nope")


def test_command_line_family_and_looks(tmp_path, capsys):
    write_sources(tmp_path / "src")
    out = tmp_path / "out"
    argv = [str(tmp_path / "src"), str(out), "--family", "pilgram", "--looks", "inkwell"]
    make_style_set.main([*argv, "--size", "24"])
    assert sorted(p.name for p in out.iterdir()) == [
        "alpha__inkwell.jpg", "beta__inkwell.jpg", "labels.csv"
    ]  # fmt: skip
    with pytest.raises(SystemExit):
        make_style_set.main([*argv[:4], "--looks", "warm"])  # pilgram has no "warm"
    assert "family 'pilgram' has no look warm" in capsys.readouterr().err
