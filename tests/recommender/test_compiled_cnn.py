"""The CNN's compiled copy (recommender/features/compiled_cnn.py): made once by the first
process, the same vector as Keras, opened by later processes without TensorFlow, and replaced
or skipped, never trusted, when it is broken or cannot be written."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.features import compiled_cnn
from recommender.features.cnn import CnnConfig, CnnExtractor, _backbones
from tests.helpers.shared_photos import LITE0_MODEL, require

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    from skimage import data

    return [Image.fromarray(data.chelsea()), Image.fromarray(data.astronaut())]


@pytest.fixture(scope="module")
def keras_vectors(photos) -> np.ndarray:
    require(LITE0_MODEL)
    extractor = CnnExtractor(CnnConfig(weights=str(LITE0_MODEL), cache_dir="none"))
    assert "LiteRT" not in extractor.description
    return extractor.extract_batch(photos)


@pytest.fixture(scope="module")
def copy_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cnn-copies")


@pytest.fixture(scope="module")
def compiled(copy_folder, keras_vectors) -> CnnExtractor:
    """Made by this process: converted from Keras, then used at once."""
    extractor = CnnExtractor(CnnConfig(weights=str(LITE0_MODEL), cache_dir=str(copy_folder)))
    extractor.check_available()
    return extractor


def _fresh(config: CnnConfig) -> CnnExtractor:
    """An extractor that loads again, as a new process would."""
    _backbones.pop(config.model_key, None)
    return CnnExtractor(config)


def test_the_copy_computes_the_keras_vector(compiled, keras_vectors, photos, copy_folder):
    assert "compiled copy" in compiled.description and "LiteRT" in compiled.description
    vectors = compiled.extract_batch(photos)
    assert vectors.shape == keras_vectors.shape and vectors.dtype == np.float32
    scale = np.abs(keras_vectors).max()
    assert np.abs(vectors - keras_vectors).max() < 1e-4 * scale
    assert not np.allclose(vectors[0], vectors[1])  # two photos, two vectors
    assert len(list(copy_folder.glob("*.tflite"))) == 1
    assert compiled.signature.startswith("efficientnet_lite0_imagenet.keras|224|")


def test_batches_of_every_size_agree(compiled, photos):
    single = np.stack([compiled.extract(photo) for photo in photos])
    assert np.allclose(compiled.extract_batch(photos), single, atol=1e-5)


def test_a_later_process_opens_the_copy_without_tensorflow(compiled, copy_folder, keras_vectors):
    probe = (
        "import sys, numpy as np\n"
        "from skimage import data\n"
        "from PIL import Image\n"
        "from recommender.features.cnn import CnnConfig, CnnExtractor\n"
        f"config = CnnConfig(weights={str(LITE0_MODEL)!r}, cache_dir={str(copy_folder)!r})\n"
        "e = CnnExtractor(config)\n"
        "v = e.extract(Image.fromarray(data.chelsea()))\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
        "np.save(sys.argv[1], v)\n"
    )
    saved = copy_folder / "probe.npy"
    done = subprocess.run(
        [sys.executable, "-c", probe, str(saved)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "False False"
    assert "XNNPACK" not in done.stderr  # LiteRT's start-up line is kept off the terminal
    vector = np.load(saved)
    assert np.abs(vector - keras_vectors[0]).max() < 1e-4 * np.abs(keras_vectors).max()


def test_the_copy_is_named_by_the_weights_content_not_their_path(tmp_path):
    require(LITE0_MODEL)
    moved = tmp_path / "elsewhere.keras"
    shutil.copyfile(LITE0_MODEL, moved)
    settings = CnnConfig(weights=str(LITE0_MODEL)).vector_settings
    assert compiled_cnn.copy_name(moved, settings) == compiled_cnn.copy_name(LITE0_MODEL, settings)
    other_layers = CnnConfig(weights=str(LITE0_MODEL), style_layers="stem_relu").vector_settings
    assert compiled_cnn.copy_name(LITE0_MODEL, other_layers) != compiled_cnn.copy_name(
        LITE0_MODEL, settings
    )
    with moved.open("r+b") as handle:  # other weights, same path
        handle.seek(-100, os.SEEK_END)
        handle.write(b"\0" * 100)
    assert compiled_cnn.copy_name(moved, settings) != compiled_cnn.copy_name(LITE0_MODEL, settings)


def test_a_broken_copy_is_made_again(compiled, copy_folder, keras_vectors, photos, caplog):
    (model_file,) = copy_folder.glob("*.tflite")
    good = model_file.read_bytes()
    model_file.write_bytes(good[: len(good) // 3])  # truncated, as by a full disk
    with caplog.at_level(logging.WARNING, logger="recommender.features.cnn"):
        again = _fresh(compiled.config)
        vectors = again.extract_batch(photos)
    assert "cannot be opened" in caplog.text and str(model_file) in caplog.text
    assert "LiteRT" in again.description
    assert model_file.stat().st_size == len(good)
    assert np.abs(vectors - keras_vectors).max() < 1e-4 * np.abs(keras_vectors).max()


def test_a_cache_folder_that_cannot_be_written_falls_back_to_keras(
    tmp_path, keras_vectors, photos, caplog
):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    config = CnnConfig(weights=str(LITE0_MODEL), cache_dir=str(blocked / "cnn"))
    with caplog.at_level(logging.WARNING, logger="recommender.features.cnn"):
        extractor = _fresh(config)
        vectors = extractor.extract_batch(photos)
    assert "could not be compiled" in caplog.text and "runs it with Keras" in caplog.text
    assert "LiteRT" not in extractor.description
    assert np.allclose(vectors, keras_vectors, atol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")  # Keras' own numpy-2 notice
def test_an_application_copy_carries_its_preprocessing(tmp_path, photos):
    """MobileNetV2 scales its input in `preprocess_input`, outside the network: the copy must do
    the same or its vectors would mean something else."""
    import keras

    weights = tmp_path / "mobilenet_v2_random.weights.h5"
    keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(224, 224, 3), pooling="avg"
    ).save_weights(weights)
    plain = _fresh(CnnConfig(weights=str(weights), model="MobileNetV2", cache_dir="none"))
    copy = _fresh(
        CnnConfig(weights=str(weights), model="MobileNetV2", cache_dir=str(tmp_path / "copies"))
    )
    expected = plain.extract_batch(photos)
    assert "LiteRT" in copy.description
    assert np.abs(copy.extract_batch(photos) - expected).max() < 1e-4 * np.abs(expected).max()


def test_settings_reach_the_config(settings, tmp_path):
    from recommender.extraction import cnn_config_from_settings

    settings.STYLEFINDER_CNN_CACHE_DIR = str(tmp_path)
    settings.STYLEFINDER_CNN_THREADS = 1
    config = cnn_config_from_settings()
    assert config.compiled_folder() == tmp_path and config.threads == 1
    settings.STYLEFINDER_CNN_CACHE_DIR = "none"
    assert cnn_config_from_settings().compiled_folder() is None
    settings.STYLEFINDER_CNN_THREADS = -1
    with pytest.raises(ValueError, match="STYLEFINDER_CNN_THREADS"):
        cnn_config_from_settings()
