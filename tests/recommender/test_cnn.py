"""CnnExtractor on the shared EfficientNet-Lite0 file (../shared/models beside the repo).

Nothing here downloads weights: the one test that lets Keras try (`..._download_fails_fast...`)
runs in a subprocess with an empty HOME and passes whether or not the network is reachable.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.extraction import (
    cnn_config_from_settings,
    configured_extractors,
    extractor_availability,
)
from recommender.features import availability, get_extractor
from recommender.features.base import ExtractorUnavailable
from recommender.features.cnn import CnnConfig, CnnExtractor
from tests.helpers.shared_photos import IMAGENET_LABELS, LITE0_MODEL, require

REPO = Path(__file__).resolve().parents[2]
LITE0 = LITE0_MODEL
# avg_pool, mean/std of stem_relu (32 channels) and block2_add (24), then their channel pairs
LITE0_STATS_END = 1280 + 2 * (32 + 24)
LITE0_DIM = LITE0_STATS_END + 32 * 31 // 2 + 24 * 23 // 2
CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


@pytest.fixture(scope="module")
def lite0() -> CnnExtractor:
    """One loaded extractor for the module. batch_size=2 so that batches of 3 are split."""
    require(LITE0)
    extractor = CnnExtractor(CnnConfig(weights=str(LITE0), batch_size=2))
    extractor.check_available()
    return extractor


def _noise(seed: int, size=(300, 200)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _gradient(size=(320, 240)) -> Image.Image:
    width, height = size
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb)


@pytest.fixture(scope="module")
def cat() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.chelsea())  # bundled with scikit-image, no download


def test_the_features_package_imports_without_django_or_tensorflow():
    """recommender.features is a pure library: importing it pulls in neither Django (no settings
    needed) nor TensorFlow (loaded only when the model is first needed)."""
    code = (
        "import sys; import recommender.features, recommender.features.cnn, "
        "recommender.features.style; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.split('.')[0] == 'django'); "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_config_from_mapping():
    config = CnnConfig.from_mapping(
        {
            "STYLEFINDER_CNN_WEIGHTS": "/models/x.keras",
            "STYLEFINDER_CNN_MODEL": "VGG16",
            "STYLEFINDER_CNN_STYLE_LAYERS": " block1_conv2, block2_conv2 ,",
            "STYLEFINDER_CNN_BATCH_SIZE": "4",
            "STYLEFINDER_CNN_DOWNLOAD_TIMEOUT": "2.5",
        }
    )
    assert config.weights == "/models/x.keras"
    assert config.model == "VGG16"
    assert config.style_layers == ("block1_conv2", "block2_conv2")
    assert config.batch_size == 4
    assert config.download_timeout == 2.5
    assert config.embedding_layer is None
    assert CnnConfig.from_mapping({}) == CnnConfig()
    assert CnnConfig.from_mapping({"STYLEFINDER_CNN_WEIGHTS": ""}).weights is None
    assert CnnConfig.from_mapping({"STYLEFINDER_CNN_STYLE_LAYERS": "none"}).style_layers == ()


def test_config_from_django_settings(settings, monkeypatch):
    monkeypatch.setenv("STYLEFINDER_CNN_BATCH_SIZE", "3")  # read by config/settings.py only
    settings.STYLEFINDER_CNN_BATCH_SIZE = 7
    settings.STYLEFINDER_CNN_MODEL = "VGG16"
    settings.STYLEFINDER_CNN_WEIGHTS = ""
    settings.STYLEFINDER_CNN_DOWNLOAD_TIMEOUT = 4
    config = cnn_config_from_settings()
    assert config == CnnConfig(model="VGG16", batch_size=7, download_timeout=4)


def test_extractors_are_shared_per_configuration():
    config = CnnConfig(weights="/models/x.keras", batch_size=4)
    extractor = get_extractor("cnn", config)
    assert extractor.config == config
    assert get_extractor("cnn", CnnConfig(weights=" /models/x.keras ", batch_size="4")) is extractor
    assert get_extractor("cnn", CnnConfig(weights="/models/y.keras")) is not extractor
    assert get_extractor("cnn").config == CnnConfig()  # defaults, not settings
    with pytest.raises(KeyError, match="nosuch"):
        get_extractor("nosuch")


def test_bad_setting_is_reported_as_unavailable(settings, db):
    with pytest.raises(ValueError, match="at least 1"):
        CnnConfig(batch_size=0)
    settings.STYLEFINDER_EXTRACTORS = ["style", "cnn"]
    settings.STYLEFINDER_CNN_BATCH_SIZE = "lots"
    ok, reason = extractor_availability("cnn")
    assert not ok
    assert re.search("STYLEFINDER_CNN_BATCH_SIZE.*'lots'", reason), reason
    assert [e.name for e in configured_extractors()] == ["style"]


def test_dim_and_blocks(lite0):
    assert lite0.dim == LITE0_DIM
    assert lite0.blocks == {
        "embedding": slice(0, 1280),
        "style_stats": slice(1280, LITE0_STATS_END),
        "style_correlations": slice(LITE0_STATS_END, LITE0_DIM),
    }
    assert "stem_relu, block2_add" in lite0.description
    assert lite0.signature.endswith("stem_relu:32,block2_add:24|correlations")
    assert (lite0.name, lite0.version) == ("cnn", 2)


def test_channel_correlations_are_those_of_the_layers_activations(lite0, cat):
    """The vector's correlations, recomputed in numpy from the two style layers' activations
    of the same input: every pair of channels, upper triangle row by row, 0 for a channel that
    never varies."""
    import keras

    model = keras.models.load_model(LITE0, compile=False)
    layers = keras.Model(
        model.inputs[0], [model.get_layer(name).output for name in ("stem_relu", "block2_add")]
    )
    batch = np.asarray(cat.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR))
    expected = []
    for activations in layers(batch[None].astype(np.float32), training=False):
        rows = np.asarray(activations, np.float64).reshape(-1, activations.shape[-1])
        centred = rows - rows.mean(axis=0)
        spread = np.sqrt((centred**2).mean(axis=0))
        correlation = (centred.T @ centred / len(rows)) / np.maximum(np.outer(spread, spread), 1e-6)
        expected.append(correlation[np.triu_indices(rows.shape[1], k=1)])
    found = lite0.extract(cat)[lite0.blocks["style_correlations"]]
    np.testing.assert_allclose(found, np.concatenate(expected), atol=2e-3)
    assert np.abs(found).max() <= 1.0 + 1e-4 and np.abs(found).max() > 0.5
    flat = lite0.extract(Image.new("RGB", (256, 256), (128, 128, 128)))
    assert np.isfinite(flat).all()


def test_extract_returns_finite_float32_vector(lite0, cat):
    vector = lite0.extract(cat)
    assert vector.dtype == np.float32
    assert vector.shape == (LITE0_DIM,)
    assert np.isfinite(vector).all()
    style = vector[lite0.blocks["style_stats"]]
    stds = np.concatenate([style[32:64], style[64 + 24 :]])
    assert (stds >= 0).all() and stds.max() > 0


def test_extract_is_deterministic(lite0, cat):
    np.testing.assert_allclose(lite0.extract(cat), lite0.extract(cat), rtol=0, atol=1e-6)


def test_extract_batch_matches_single_extracts(lite0, cat):
    images = [cat, _noise(1), _gradient()]
    batch = lite0.extract_batch(images)  # batch_size=2: two chunks
    assert batch.shape == (3, LITE0_DIM) and batch.dtype == np.float32
    singles = np.stack([lite0.extract(image) for image in images])
    np.testing.assert_allclose(batch, singles, rtol=0, atol=1e-4)
    assert lite0.extract_batch([]).shape == (0, LITE0_DIM)


def test_non_rgb_images_are_converted(lite0, cat):
    grey = lite0.extract(cat.convert("L"))
    rgba = lite0.extract(cat.convert("RGBA"))
    assert grey.shape == rgba.shape == (LITE0_DIM,)
    np.testing.assert_allclose(rgba, lite0.extract(cat), atol=1e-6)


def test_different_images_give_different_vectors(lite0, cat):
    a, b, c = lite0.extract_batch([cat, _noise(2), _gradient()])
    for first, second in ((a, b), (a, c), (b, c)):
        assert not np.allclose(first, second, atol=1e-3)


def test_grey_and_colourful_images_differ_in_style_stats(lite0, cat):
    style = lite0.blocks["style_stats"]
    grey = lite0.extract(Image.new("RGB", (256, 256), (128, 128, 128)))[style]
    colourful = lite0.extract(_gradient())[style]
    assert np.abs(grey - colourful).max() > 0.1
    # A flat image has (almost) no spatial variation in the stem layer: tiny std.
    assert grey[32:64].max() < colourful[32:64].max()


def test_the_shared_weights_classify_the_cat(lite0, cat):
    """A sanity check of the model file itself (its softmax head): a tabby is a cat."""
    import keras

    model = keras.models.load_model(LITE0, compile=False)
    batch = np.asarray(cat.resize((224, 224), Image.Resampling.BILINEAR), np.float32)[None]
    scores = np.asarray(model(batch, training=False))[0]
    labels = IMAGENET_LABELS.read_text(encoding="utf-8").splitlines()[1:1001]  # line 1: background
    top = [labels[i].split(",")[0].strip() for i in np.argsort(-scores)[:5]]
    assert CAT_CLASSES & set(top), top


def test_same_model_with_another_batch_size_is_not_loaded_again(lite0):
    other = CnnExtractor(dataclasses.replace(lite0.config, batch_size=8))
    started = time.monotonic()
    assert other.dim == LITE0_DIM
    assert time.monotonic() - started < 0.5  # same model: shared, not loaded again


def test_availability_says_why(lite0):
    assert availability("cnn", lite0.config) == (True, "available")
    available, message = availability("cnn", CnnConfig(weights="/nowhere/model.keras"))
    assert not available and "/nowhere/model.keras" in message


def test_missing_weights_file_is_reported_quickly(tmp_path, caplog):
    missing = tmp_path / "no-such-model.keras"
    extractor = CnnExtractor(CnnConfig(weights=str(missing)))
    started = time.monotonic()
    with pytest.raises(ExtractorUnavailable) as excinfo:
        extractor.check_available()
    assert time.monotonic() - started < 2
    message = str(excinfo.value)
    assert str(missing) in message and "STYLEFINDER_CNN_WEIGHTS" in message
    assert "style features alone" in message
    # Remembered: no retry, no second warning; extract fails the same way.
    caplog.clear()
    with pytest.raises(ExtractorUnavailable, match="no-such-model"):
        extractor.extract(Image.new("RGB", (8, 8)))
    assert not caplog.records


def test_unknown_application_name_is_a_clear_error():
    extractor = CnnExtractor(CnnConfig(weights=None, model="NoSuchNet"))
    with pytest.raises(ExtractorUnavailable, match="'NoSuchNet' is not a Keras application"):
        extractor.check_available()


@pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")  # Keras' own numpy-2 notice
def test_application_with_a_local_weights_file(tmp_path, cat):
    """STYLEFINDER_CNN_MODEL + a *.weights.h5 file: the application is built offline."""
    import keras

    weights = tmp_path / "mobilenet_v2_random.weights.h5"
    source = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(224, 224, 3), pooling="avg"
    )
    source.save_weights(weights)
    extractor = CnnExtractor(CnnConfig(weights=str(weights), model="MobileNetV2"))
    assert "block_1_expand_relu, block_3_expand_relu" in extractor.description
    assert extractor.dim == 1280 + 2 * (96 + 144)  # the style layers' channels: 96 and 144
    vector = extractor.extract(cat)
    assert vector.shape == (extractor.dim,) and np.isfinite(vector).all()


_DOWNLOAD_PROBE = """
import json, os, sys, time
import keras  # import TensorFlow first: only the download attempt is timed
from recommender.features.cnn import CnnConfig, CnnExtractor, ExtractorUnavailable
started = time.monotonic()
try:
    extractor = CnnExtractor(CnnConfig.from_mapping(os.environ))
    extractor.check_available()
    outcome = {"available": True, "dim": extractor.dim}
except ExtractorUnavailable as exc:
    outcome = {"available": False, "message": str(exc)}
outcome["seconds"] = time.monotonic() - started
print(json.dumps(outcome))
"""


def _probe_env(home: Path, *, keep_proxies: bool = True, **extra: str) -> dict[str, str]:
    """The environment for `_DOWNLOAD_PROBE`: empty HOME (no Keras cache), no Django."""
    proxies = () if keep_proxies else ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STYLEFINDER_CNN_")
        and key not in ("KERAS_HOME", "DJANGO_SETTINGS_MODULE")
        and key.lower() not in proxies
    }
    env.update(
        HOME=str(home),
        STYLEFINDER_CNN_MODEL="MobileNetV2",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **extra,
    )
    return env


def _run_probe(env: dict[str, str]) -> dict:
    try:
        result = subprocess.run(
            [sys.executable, "-c", _DOWNLOAD_PROBE],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,  # includes importing TensorFlow on a busy machine
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the weights download hung instead of failing fast")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_network_download_fails_fast_without_network(tmp_path):
    """NETWORK: MobileNetV2 with no weights file and an empty Keras cache tries Keras' download.

    Here the network is closed, so this must end with ExtractorUnavailable within ~20 s instead
    of hanging; where the network is reachable the download succeeding is accepted too. Runs in
    a subprocess: Keras fixes its cache folder (~/.keras) at import, and a hang cannot hold up the
    suite beyond the subprocess timeout.
    """
    home = tmp_path / "home"
    home.mkdir()
    outcome = _run_probe(_probe_env(home, STYLEFINDER_CNN_DOWNLOAD_TIMEOUT="15"))
    if outcome["available"]:  # the network was reachable after all
        assert outcome["dim"] == 1280 + 2 * (96 + 144)
        return
    assert outcome["seconds"] < 20, outcome
    assert "MobileNetV2" in outcome["message"]
    assert "STYLEFINDER_CNN_WEIGHTS" in outcome["message"]


def test_network_stalled_download_times_out(tmp_path):
    """NETWORK (simulated, offline): a server that accepts but never answers, as an HTTPS proxy.

    Keras' own download has no timeout; STYLEFINDER_CNN_DOWNLOAD_TIMEOUT must end it.
    """
    home = tmp_path / "home"
    home.mkdir()
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts or replies
        proxy = f"http://127.0.0.1:{silent.getsockname()[1]}"
        outcome = _run_probe(
            _probe_env(
                home,
                keep_proxies=False,
                STYLEFINDER_CNN_DOWNLOAD_TIMEOUT="2",
                https_proxy=proxy,
                HTTPS_PROXY=proxy,
            )
        )
    assert not outcome["available"]
    assert outcome["seconds"] < 10, outcome
    assert "timed out" in outcome["message"] and "MobileNetV2" in outcome["message"]


def test_importing_tensorflow_prints_none_of_its_start_up_lines():
    """absl writes TensorFlow's start-up information (oneDNN, CPU features) to the terminal
    whatever the log level; importing through the extractor keeps it out, and keeps the rest."""
    script = (
        "import os, sys\n"
        "from recommender.features.cnn import _import_keras\n"
        "keras = _import_keras()\n"
        "os.write(2, b'after the import\\n')\n"
        "print(keras.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "keras"
    assert "oneDNN" not in done.stderr
    assert "absl::InitializeLog" not in done.stderr
    assert "cpu_feature_guard" not in done.stderr
    assert done.stderr.strip().endswith("after the import")


def test_tensorflow_start_up_noise_pattern_keeps_other_lines():
    from recommender.features.cnn import TF_STARTUP_NOISE

    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796315736.830548    5943 port.cc:153] oneDNN custom operations are on.",
        "I0000 00:00:1796315819.033991 6278 cpu_feature_guard.cc:227] This TensorFlow binary",
        "To enable the following instructions: AVX2 AVX512F, in other operations, rebuild",
    ]
    kept = [
        "E0000 00:00:1796315736.830548 5943 cuda_dnn.cc:8310] Unable to register cuDNN factory",
        "Traceback (most recent call last):",
        "WARNING photos.pipeline: photo 3 failed",
    ]
    assert all(TF_STARTUP_NOISE.match(line) for line in noise)
    assert not any(TF_STARTUP_NOISE.match(line) for line in kept)
