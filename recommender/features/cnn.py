"""CNN features: an ImageNet backbone's pooled embedding plus channel statistics of early layers.

Output vector, float32, in this order (see `CnnExtractor.blocks`):

- ``embedding``: the global-average-pooled penultimate features (what the photo shows, roughly);
- ``style_stats``: for each style layer in turn, the per-channel mean of its activations, then the
  per-channel standard deviation (first- and second-order statistics of early layers: colour,
  tone, texture — how the photo looks);
- ``style_correlations``: for each style layer of at most `CORRELATION_MAX_CHANNELS` channels,
  the correlation of every pair of its channels over the image (the upper triangle of the
  normalised Gram matrix of style transfer, row by row): which colours and edges occur
  together, which is what a grade changes and a scene much less. With the shared
  EfficientNet-Lite0 these are 496 + 276 numbers; they raised the held-out strict P@10 of the
  look metric from 0.563 to 0.583 (`benchmarks/fit_look_metric.py`, README).

Configuration is passed in as a `CnnConfig` (no Django here: the site builds it from its settings in
`recommender.extraction`, scripts from the environment with `CnnConfig.from_mapping(os.environ)`).
Its fields carry the names of these settings / environment variables:

``STYLEFINDER_CNN_WEIGHTS``
    Local file. A full saved model (``.keras``, or an ``.h5`` holding a model) is used as is, e.g.
    the shared ``efficientnet_lite0_imagenet.keras`` (raw 0–255 input, rescales itself). A weights
    file (``*.weights.h5`` or an ``.h5`` without a model) holds the no-top weights of the Keras
    application named by ``STYLEFINDER_CNN_MODEL``.
``STYLEFINDER_CNN_MODEL`` (``MobileNetV2``)
    A ``keras.applications`` name (MobileNetV2, EfficientNetB0, VGG16, ResNet50, ...). Without a
    weights file its ImageNet weights come from the Keras cache (``~/.keras/models``) or Keras'
    usual download, which fails fast (``STYLEFINDER_CNN_DOWNLOAD_TIMEOUT`` s, default 15).
``STYLEFINDER_CNN_EMBEDDING_LAYER``
    Default: ``avg_pool`` for model files, the ``pooling="avg"`` output for applications.
``STYLEFINDER_CNN_STYLE_LAYERS``
    Comma list (``none`` for no style statistics). Defaults: ``stem_relu,block2_add`` for model
    files, `APPLICATION_STYLE_LAYERS` for applications, else the last layers at 1/2 and 1/4 of the
    input resolution.
``STYLEFINDER_CNN_BATCH_SIZE`` (16)
``STYLEFINDER_CNN_CACHE_DIR`` (``~/.cache/stylefinder/cnn``)
    Where the compiled (LiteRT) copy of each configuration is kept (`compiled_cnn`): the first
    process converts the Keras model, later ones open the copy in well under a second without
    importing TensorFlow. ``none``: no copy, every process loads Keras.
``STYLEFINDER_CNN_THREADS`` (0: every core)
    Threads of one inference with the compiled copy (a process pool gives each process one).

If no model can be had, `CnnExtractor.check_available` raises `ExtractorUnavailable` saying why,
logs it once, and remembers it for the life of the process (no retry storm). The model is loaded
once per process and configuration, under a lock. Load it after forking (Celery prefork workers
load it in each child, lazily), never in a parent that forks.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import compiled_cnn
from .base import ExtractorUnavailable, FeatureExtractor
from .native_output import filtered_stderr

# Quiet TensorFlow's C++ logging; must be set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# What TensorFlow's native code prints on import whatever the log level (absl writes it before
# any level applies): start-up information, not something a user can act on.
TF_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|I\d{4} .*\b(port|cpu_feature_guard)\.cc:\d+\]"
    r"|To enable the following instructions:)"
)

logger = logging.getLogger(__name__)

MODEL_SIDE = 224
DEFAULT_MODEL = "MobileNetV2"
DEFAULT_EMBEDDING_LAYER = "avg_pool"
DEFAULT_FILE_STYLE_LAYERS = ("stem_relu", "block2_add")  # EfficientNet-Lite0 file: 1/2, 1/4
#: style layers wider than this give no channel correlations (VGG16's 128 channels would be 8,128)
CORRELATION_MAX_CHANNELS = 64
#: below this product of two channels' spreads their correlation counts as 0
CORRELATION_EPSILON = 1e-6
# Early layers (1/2 and 1/4 of the input resolution, VGG: 1/1 and 1/2) of Keras applications.
APPLICATION_STYLE_LAYERS: dict[str, tuple[str, ...]] = {
    "MobileNetV2": ("block_1_expand_relu", "block_3_expand_relu"),
    "EfficientNetB0": ("stem_activation", "block2b_add"),
    "VGG16": ("block1_conv2", "block2_conv2"),
    "VGG19": ("block1_conv2", "block2_conv2"),
    "ResNet50": ("conv1_relu", "conv2_block3_out"),
}
WEIGHTS_HOST = "storage.googleapis.com"  # where Keras downloads application weights from
FALLBACK_NOTE = "The site runs on the style features alone."

ENV_WEIGHTS = "STYLEFINDER_CNN_WEIGHTS"
ENV_MODEL = "STYLEFINDER_CNN_MODEL"
ENV_EMBEDDING_LAYER = "STYLEFINDER_CNN_EMBEDDING_LAYER"
ENV_STYLE_LAYERS = "STYLEFINDER_CNN_STYLE_LAYERS"
ENV_BATCH_SIZE = "STYLEFINDER_CNN_BATCH_SIZE"
ENV_DOWNLOAD_TIMEOUT = "STYLEFINDER_CNN_DOWNLOAD_TIMEOUT"
ENV_CACHE_DIR = "STYLEFINDER_CNN_CACHE_DIR"
ENV_THREADS = "STYLEFINDER_CNN_THREADS"

#: `CnnConfig` field → the setting / environment variable it comes from.
SETTING_NAMES: dict[str, str] = {
    "weights": ENV_WEIGHTS,
    "model": ENV_MODEL,
    "embedding_layer": ENV_EMBEDDING_LAYER,
    "style_layers": ENV_STYLE_LAYERS,
    "batch_size": ENV_BATCH_SIZE,
    "download_timeout": ENV_DOWNLOAD_TIMEOUT,
    "cache_dir": ENV_CACHE_DIR,
    "threads": ENV_THREADS,
}


# --- Configuration ------------------------------------------------------------------------------


def _parse_layers(value: Any) -> tuple[str, ...] | None:
    """Comma string or sequence → tuple of names; blank → None (defaults); "none" → ()."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() == "none":
            return ()
        value = value.split(",")
    names = tuple(str(name).strip() for name in value if str(name).strip())
    return names or None


def _blank_to_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class CnnConfig:
    """Where the CNN comes from and how it is run. Hashable: one loaded model per config.

    Invalid values raise `ValueError` naming the setting they come from.
    """

    weights: str | None = None
    model: str = DEFAULT_MODEL
    embedding_layer: str | None = None
    style_layers: tuple[str, ...] | None = None
    batch_size: int = 16
    download_timeout: float = 15.0
    cache_dir: str | None = None  # None: compiled_cnn.default_cache_dir(); "none": no copy
    threads: int = 0  # 0: every core

    def __post_init__(self) -> None:
        # Normalise so that equal configurations hash equally (and share one loaded model).
        set_ = object.__setattr__
        set_(self, "weights", _blank_to_none(self.weights))
        set_(self, "model", _blank_to_none(self.model) or DEFAULT_MODEL)
        set_(self, "embedding_layer", _blank_to_none(self.embedding_layer))
        set_(self, "style_layers", _parse_layers(self.style_layers))
        set_(self, "cache_dir", _blank_to_none(self.cache_dir))
        try:
            threads = int(self.threads)
        except (TypeError, ValueError):
            raise ValueError(f"{ENV_THREADS} must be an integer, not {self.threads!r}") from None
        if threads < 0:
            raise ValueError(f"{ENV_THREADS} must be 0 (every core) or more, not {threads}")
        set_(self, "threads", threads)
        try:
            batch_size = int(self.batch_size)
        except (TypeError, ValueError):
            raise ValueError(
                f"{ENV_BATCH_SIZE} must be an integer, not {self.batch_size!r}"
            ) from None
        try:
            timeout = float(self.download_timeout)
        except (TypeError, ValueError):
            raise ValueError(
                f"{ENV_DOWNLOAD_TIMEOUT} must be a number of seconds, not {self.download_timeout!r}"
            ) from None
        if batch_size < 1:
            raise ValueError(f"{ENV_BATCH_SIZE} must be at least 1, not {batch_size}")
        if timeout <= 0:
            raise ValueError(f"{ENV_DOWNLOAD_TIMEOUT} must be positive, not {timeout}")
        set_(self, "batch_size", batch_size)
        set_(self, "download_timeout", timeout)

    @property
    def model_key(self) -> tuple[Any, ...]:
        """The fields that determine the loaded model (the batch size does not)."""
        return (*self.vector_settings, self.weights, self.cache_dir, self.threads)

    @property
    def vector_settings(self) -> tuple[Any, ...]:
        """The settings the vector depends on besides the weights' content."""
        return (self.model, self.embedding_layer, self.style_layers)

    def compiled_folder(self) -> Path | None:
        """Where compiled copies are kept, or None when they are turned off."""
        if self.cache_dir is None:
            return compiled_cnn.default_cache_dir()
        if self.cache_dir.lower() in {"none", "off"}:
            return None
        return Path(self.cache_dir).expanduser()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CnnConfig:
        """From ``STYLEFINDER_CNN_*`` names → values (Django settings, or `os.environ`); names
        that are missing keep their defaults."""
        return cls(
            **{field: values[name] for field, name in SETTING_NAMES.items() if name in values}
        )


# --- Loading ------------------------------------------------------------------------------------


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Bound every new socket's connect/read time (Keras' download has no timeout of its own)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _host_unreachable(host: str, timeout: float) -> str | None:
    """Why `host` cannot be resolved within `timeout` s, or None if it can.

    Name resolution ignores socket timeouts and can hang for long without a network, so it runs
    in a daemon thread that we stop waiting for.
    """
    outcome: dict[str, BaseException | None] = {}

    def resolve() -> None:
        try:
            socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
            outcome["error"] = None
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=resolve, name="cnn-weights-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if "error" not in outcome:
        return f"resolving {host} took longer than {timeout:g} s"
    error = outcome["error"]
    return None if error is None else f"cannot resolve {host} ({error})"


def _import_keras() -> Any:
    """Import Keras (and TensorFlow under it) without TensorFlow's native start-up lines."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    with filtered_stderr(TF_STARTUP_NOISE):
        import keras
    return keras


def _keras_cache_has(application: str) -> bool:
    """Whether the Keras cache seems to hold weights for `application` (no download needed)."""
    try:
        _import_keras()
        from keras.src.backend.config import keras_home

        home = keras_home()
    except Exception:
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    key = application.lower()
    for base in (home, os.path.join(tempfile.gettempdir(), ".keras")):
        folder = Path(base, "models")
        if folder.is_dir() and any(
            key in entry.name.lower().replace("_", "") for entry in folder.glob("*.h5")
        ):
            return True
    return False


def _is_full_model_h5(path: Path) -> bool:
    """An .h5 written by `model.save` carries the architecture; a weights file does not."""
    import h5py

    with h5py.File(path, "r") as handle:
        return "model_config" in handle.attrs


@dataclass(eq=False)
class _Backbone:
    """A loaded model and everything needed to run it. Immutable once built."""

    description: str
    signature: str  # what the vector's meaning depends on: model, layers, sizes (no paths)
    side: int
    forward: Callable[[np.ndarray], np.ndarray]  # preprocessed batch → feature vectors
    preprocess: Callable[[np.ndarray], np.ndarray] | None  # applications' preprocess_input
    embedding_dim: int
    style_channels: tuple[int, ...]
    # Keras backbones: converts the whole forward pass (preprocess included) to LiteRT.
    compile: Callable[[], bytes] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stats_dim(self) -> int:
        return 2 * sum(self.style_channels)

    @property
    def correlations_dim(self) -> int:
        return sum(c * (c - 1) // 2 for c in self.style_channels if _correlated(c))

    @property
    def dim(self) -> int:
        return self.embedding_dim + self.stats_dim + self.correlations_dim

    def meta(self) -> dict[str, Any]:
        """What a compiled copy needs besides the network to stand in for this backbone."""
        return {
            "description": self.description,
            "signature": self.signature,
            "side": self.side,
            "embedding_dim": self.embedding_dim,
            "style_channels": list(self.style_channels),
        }


def _unavailable(message: str) -> ExtractorUnavailable:
    return ExtractorUnavailable(f"CNN features unavailable: {message} {FALLBACK_NOTE}")


def _load_backbone(config: CnnConfig) -> _Backbone:
    """The compiled copy if there is one; else Keras, compiled for next time where possible."""
    weights = Path(config.weights).expanduser() if config.weights else None
    if weights is not None and not weights.is_file():
        what = "is a directory, not a file" if weights.is_dir() else "does not exist"
        raise _unavailable(f"{ENV_WEIGHTS}={weights} {what}.")

    copy = _compiled_copy(config, weights)
    if copy is not None and copy.exists():
        loaded = _open_compiled(copy, config)
        if loaded is not None:
            return loaded
    backbone = _load_keras_backbone(config, weights)
    if copy is None or backbone.compile is None:
        return backbone
    try:
        copy.write(backbone.compile(), backbone.meta())
    except Exception as exc:  # a read-only cache folder, a layer the converter cannot take
        logger.warning(
            "The CNN could not be compiled to %s (%s: %s); this process runs it with Keras.",
            copy.model_path,
            type(exc).__name__,
            exc,
        )
        return backbone
    # From now on this process computes exactly what every later process will.
    return _open_compiled(copy, config) or backbone


def _compiled_copy(config: CnnConfig, weights: Path | None) -> compiled_cnn.CompiledCopy | None:
    folder = config.compiled_folder()
    if folder is None or not compiled_cnn.runtime_available():
        return None
    try:
        stem = compiled_cnn.copy_name(weights, config.vector_settings)
    except OSError as exc:
        raise _unavailable(f"{ENV_WEIGHTS}={weights} cannot be read ({exc}).") from exc
    return compiled_cnn.CompiledCopy(folder, stem)


def _open_compiled(copy: compiled_cnn.CompiledCopy, config: CnnConfig) -> _Backbone | None:
    """The copy as a backbone; None (and the copy removed) if it cannot be opened."""
    try:
        meta = copy.read_meta()
        forward = compiled_cnn.LiteRtForward(copy.model_path, config.threads or os.cpu_count() or 1)
        return _Backbone(
            description=f"{meta['description']}; compiled copy {copy.model_path} (LiteRT)",
            signature=meta["signature"],
            side=int(meta["side"]),
            forward=forward,
            preprocess=None,  # part of the compiled network
            embedding_dim=int(meta["embedding_dim"]),
            style_channels=tuple(int(c) for c in meta["style_channels"]),
        )
    except Exception as exc:
        logger.warning(
            "The compiled CNN %s cannot be opened (%s: %s); it is made again.",
            copy.model_path,
            type(exc).__name__,
            exc,
        )
        copy.discard()
        return None


def _load_keras_backbone(config: CnnConfig, weights: Path | None) -> _Backbone:
    try:
        keras = _import_keras()
    except Exception as exc:  # ImportError, or a broken TensorFlow install
        raise _unavailable(f"TensorFlow/Keras cannot be imported ({exc}).") from exc

    if weights is not None:
        suffixes = "".join(weights.suffixes[-2:]).lower()
        if weights.suffix.lower() not in (".keras", ".h5", ".hdf5"):
            raise _unavailable(
                f"{ENV_WEIGHTS}={weights}: unsupported file type {weights.suffix!r} (expected "
                "a .keras model, an .h5 model or an application's .weights.h5)."
            )
        try:
            is_model = weights.suffix.lower() == ".keras" or (
                suffixes != ".weights.h5" and _is_full_model_h5(weights)
            )
        except OSError as exc:
            raise _unavailable(
                f"{ENV_WEIGHTS}={weights} is not a readable HDF5 file ({exc})."
            ) from exc
        if is_model:
            try:
                model = keras.models.load_model(weights, compile=False)
            except Exception as exc:
                raise _unavailable(
                    f"cannot load the model file {ENV_WEIGHTS}={weights} ({exc})."
                ) from exc
            return _wrap(
                keras,
                config,
                model,
                f"model file {weights}",
                preprocess=None,
                model_name=weights.name,
            )
    return _build_application(keras, config, weights)


def _build_application(keras: Any, config: CnnConfig, weights: Path | None) -> _Backbone:
    import importlib

    name = config.model
    builder = getattr(keras.applications, name, None)
    if not (name[:1].isupper() and callable(builder)):
        known = ", ".join(n for n in dir(keras.applications) if n[:1].isupper())
        raise _unavailable(
            f"{ENV_MODEL}={name!r} is not a Keras application (known: {known}); "
            f"or set {ENV_WEIGHTS} to a model file."
        )
    preprocess = importlib.import_module(builder.__module__).preprocess_input
    kwargs = {"include_top": False, "input_shape": (MODEL_SIDE, MODEL_SIDE, 3), "pooling": "avg"}
    if weights is not None:
        try:
            model = builder(weights=str(weights), **kwargs)
        except Exception as exc:
            raise _unavailable(
                f"cannot build {name} with {ENV_WEIGHTS}={weights} ({exc}); the file must hold "
                f"{name}'s weights without its classifier top (include_top=False)."
            ) from exc
        return _wrap(
            keras, config, model, f"{name} with weights {weights}", preprocess, model_name=name
        )

    timeout = config.download_timeout
    how_to_fix = (
        f"Put the weights in the Keras cache (~/.keras/models) or set {ENV_WEIGHTS} to a local "
        "file."
    )
    if not _keras_cache_has(name) and not urllib.request.getproxies().get("https"):
        reason = _host_unreachable(WEIGHTS_HOST, timeout)
        if reason:
            raise _unavailable(
                f"{ENV_MODEL}={name} needs its ImageNet weights, which are not cached and cannot "
                f"be downloaded: {reason}; no network? {how_to_fix}"
            )
    started = time.monotonic()
    try:
        with _socket_timeout(timeout):
            model = builder(weights="imagenet", **kwargs)
    except Exception as exc:
        raise _unavailable(
            f"could not get the ImageNet weights of {ENV_MODEL}={name} after "
            f"{time.monotonic() - started:.1f} s (download timeout {timeout:g} s): {exc}. "
            f"{how_to_fix}"
        ) from exc
    return _wrap(keras, config, model, f"{name} with ImageNet weights", preprocess, model_name=name)


def _find_layer(model: Any, name: str) -> Any | None:
    try:
        return model.get_layer(name)
    except ValueError:
        return None


def _spatial_default(model: Any, side: int) -> tuple[str, ...]:
    """The last 4-D layers at 1/2 and 1/4 of the input resolution: early, style-bearing."""
    shapes = {}
    for layer in model.layers:
        try:
            shapes[layer.name] = tuple(layer.output.shape)
        except (AttributeError, ValueError):  # layers without a single output
            continue
    chosen = []
    for target in (side // 2, side // 4):
        names = [name for name, shape in shapes.items() if len(shape) == 4 and shape[1] == target]
        if names:
            chosen.append(names[-1])
    return tuple(chosen)


def _wrap(
    keras: Any,
    config: CnnConfig,
    model: Any,
    source: str,
    preprocess: Callable[[np.ndarray], np.ndarray] | None,
    *,
    model_name: str,
) -> _Backbone:
    """Wrap `model` in one keras.Model(inputs, [embedding, *style layers]) and a forward pass."""
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise _unavailable(f"{source}: expected one image input, got {model.inputs}.")
    _, height, width, channels = model.inputs[0].shape
    if channels not in (3, None) or (height or MODEL_SIDE) != (width or MODEL_SIDE):
        raise _unavailable(f"{source}: expected a square RGB input, got {model.inputs[0].shape}.")
    side = int(height or MODEL_SIDE)

    # Embedding.
    if config.embedding_layer:
        layer = _find_layer(model, config.embedding_layer)
        if layer is None:
            raise _unavailable(
                f"{ENV_EMBEDDING_LAYER}={config.embedding_layer!r}: no such layer in {source}."
            )
        embedding_layer, embedding = layer.name, layer.output
    elif preprocess is not None:  # application built with pooling="avg"
        embedding_layer, embedding = model.layers[-1].name, model.outputs[0]
    else:
        layer = _find_layer(model, DEFAULT_EMBEDDING_LAYER) or next(
            (
                lyr
                for lyr in reversed(model.layers)
                if isinstance(lyr, keras.layers.GlobalAveragePooling2D)
            ),
            None,
        )
        if layer is None:
            raise _unavailable(
                f"{source} has no {DEFAULT_EMBEDDING_LAYER!r} (or global-average-pooling) layer; "
                f"set {ENV_EMBEDDING_LAYER}."
            )
        embedding_layer, embedding = layer.name, layer.output
    if len(embedding.shape) not in (2, 4) or embedding.shape[-1] is None:
        raise _unavailable(
            f"{source}: embedding layer {embedding_layer!r} has shape {embedding.shape}; "
            "expected (batch, features) or (batch, h, w, channels)."
        )

    # Style layers.
    if config.style_layers is not None:
        missing = [name for name in config.style_layers if _find_layer(model, name) is None]
        if missing:
            raise _unavailable(f"{ENV_STYLE_LAYERS}: no layer(s) {missing} in {source}.")
        style_layers = config.style_layers
    else:
        preferred = (
            APPLICATION_STYLE_LAYERS.get(config.model, ())
            if preprocess is not None
            else DEFAULT_FILE_STYLE_LAYERS
        )
        if preferred and all(_find_layer(model, name) is not None for name in preferred):
            style_layers = preferred
        else:
            style_layers = _spatial_default(model, side)
    style_outputs = [model.get_layer(name).output for name in style_layers]
    for name, output in zip(style_layers, style_outputs, strict=True):
        if len(output.shape) != 4 or output.shape[-1] is None:
            raise _unavailable(
                f"{source}: style layer {name!r} has shape {output.shape}; expected a feature map."
            )

    ops = keras.ops
    parts = [ops.mean(embedding, axis=(1, 2)) if len(embedding.shape) == 4 else embedding]
    correlations = []
    for activations in style_outputs:
        mean = ops.mean(activations, axis=(1, 2))
        centred = activations - ops.expand_dims(ops.expand_dims(mean, 1), 1)
        std = ops.sqrt(ops.mean(ops.square(centred), axis=(1, 2)))
        parts += [mean, std]
        if _correlated(int(activations.shape[-1])):
            correlations.append(_channel_correlations(ops, centred, std))
    parts += correlations
    vector_model = keras.Model(
        model.inputs[0], ops.concatenate(parts, axis=-1), name="stylefinder_cnn"
    )

    import tensorflow as tf  # Keras' only backend here (requirements.txt: tensorflow-cpu)

    # One graph for every batch size: no retracing between full and partial batches.
    compiled = tf.function(
        lambda batch: vector_model(batch, training=False),
        input_signature=[tf.TensorSpec([None, side, side, 3], tf.float32)],
        reduce_retracing=True,
    )

    def run(batch: np.ndarray) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(compiled(batch)), dtype=np.float32)

    description = (
        f"{source}: {side}x{side} input, embedding {embedding_layer!r} "
        f"({embedding.shape[-1]}), style statistics of {', '.join(style_layers) or 'no layers'}"
    )
    signature = (
        f"{model_name}|{side}|{embedding_layer}:{embedding.shape[-1]}|"
        + ",".join(
            f"{layer}:{int(out.shape[-1])}"
            for layer, out in zip(style_layers, style_outputs, strict=True)
        )
        + "|correlations"
    )
    return _Backbone(
        description=description,
        signature=signature,
        side=side,
        forward=run,
        preprocess=preprocess,
        embedding_dim=int(embedding.shape[-1]),
        style_channels=tuple(int(output.shape[-1]) for output in style_outputs),
        compile=lambda: compiled_cnn.convert(keras, vector_model, side, preprocess),
    )


def _correlated(channels: int) -> bool:
    """Does a style layer of this width contribute channel correlations?"""
    return channels <= CORRELATION_MAX_CHANNELS


def _channel_correlations(ops: Any, centred: Any, std: Any) -> Any:
    """(batch, c·(c−1)/2): the correlation of each pair of channels of a centred (batch, h, w,
    c) feature map over its positions, upper triangle row by row. A channel that is constant
    over the image (a ReLU that never fires) correlates 0 with every other."""
    _, height, width, channels = centred.shape
    rows = ops.reshape(centred, (-1, height * width, channels))
    covariance = ops.matmul(ops.transpose(rows, (0, 2, 1)), rows) / float(height * width)
    spread = ops.expand_dims(std, 2) * ops.expand_dims(std, 1)
    correlation = covariance / ops.maximum(spread, CORRELATION_EPSILON)
    upper = np.flatnonzero(np.triu(np.ones((channels, channels), bool), k=1))
    return ops.take(ops.reshape(correlation, (-1, channels * channels)), upper, axis=1)


# One loaded model (or the reason it cannot be loaded) per model configuration, per process.
_load_lock = threading.Lock()
_backbones: dict[tuple[Any, ...], _Backbone | ExtractorUnavailable] = {}


def _get_backbone(config: CnnConfig) -> _Backbone:
    key = config.model_key
    entry = _backbones.get(key)
    if entry is None:
        with _load_lock:
            entry = _backbones.get(key)
            if entry is None:
                started = time.monotonic()
                try:
                    entry = _load_backbone(config)
                except ExtractorUnavailable as exc:
                    entry = exc
                except Exception as exc:  # anything else TensorFlow may throw
                    entry = _unavailable(f"loading the CNN failed ({type(exc).__name__}: {exc}).")
                if isinstance(entry, ExtractorUnavailable):
                    logger.warning("%s", entry)
                else:
                    logger.info(
                        "CNN loaded in %.1f s: %s", time.monotonic() - started, entry.description
                    )
                _backbones[key] = entry
    if isinstance(entry, ExtractorUnavailable):
        raise ExtractorUnavailable(str(entry))  # a fresh exception: no traceback pile-up
    return entry


# --- Extractor ----------------------------------------------------------------------------------


def _to_array(image: Image.Image, side: int) -> np.ndarray:
    """Whole image (no crop) → RGB, bilinear resize to side×side, float32 0..255."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (side, side):
        image = image.resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32)


class CnnExtractor(FeatureExtractor):
    """Pretrained CNN features: pooled embedding, channel mean/std and channel correlations of
    early layers."""

    name = "cnn"
    version = 2  # 2: channel correlations (December 2026); older vectors are re-extracted
    # Callers decode JPEGs (draft mode) to about this longest side, shared with the style
    # extractor so one decode serves both; the whole image is then resized to 224x224.
    input_side = 256

    def __init__(self, config: CnnConfig | None = None) -> None:
        """`config` (default: `CnnConfig()`) says which model; nothing loads until first use."""
        self.config = config if config is not None else CnnConfig()

    def _backbone(self) -> _Backbone:
        return _get_backbone(self.config)

    def check_available(self) -> None:
        """Load the model if needed; raise `ExtractorUnavailable` (remembered) if it cannot be."""
        self._backbone()

    @property
    def description(self) -> str:
        return self._backbone().description

    @property
    def signature(self) -> str:
        """Model file name (or application), input size, embedding and style layers with their
        widths: two extractors with one signature produce comparable vectors. A learned look
        metric over the style statistics applies only to the signature it was fitted on."""
        return self._backbone().signature

    @property
    def dim(self) -> int:  # type: ignore[override]  # known once the model is loaded
        return self._backbone().dim

    @property
    def blocks(self) -> dict[str, slice]:
        """Parts of the vector, for the index to weight/reduce separately."""
        backbone = self._backbone()
        stats_end = backbone.embedding_dim + backbone.stats_dim
        return {
            "embedding": slice(0, backbone.embedding_dim),
            "style_stats": slice(backbone.embedding_dim, stats_end),
            "style_correlations": slice(stats_end, backbone.dim),
        }

    # -- extraction --

    def _batch_array(self, backbone: _Backbone, images: Sequence[Image.Image]) -> np.ndarray:
        batch = np.stack([_to_array(image, backbone.side) for image in images])
        if backbone.preprocess is not None:
            batch = np.asarray(backbone.preprocess(batch), dtype=np.float32)
        return batch

    def extract(self, image: Image.Image) -> np.ndarray:
        return self.extract_batch([image])[0]

    def extract_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        backbone = self._backbone()
        if len(images) == 0:
            return np.zeros((0, backbone.dim), dtype=np.float32)
        size = self.config.batch_size
        chunks = []
        for start in range(0, len(images), size):
            batch = self._batch_array(backbone, images[start : start + size])
            with backbone.lock:  # one inference at a time: the CPU is shared anyway
                chunks.append(backbone.forward(batch))
        return np.concatenate(chunks).astype(np.float32, copy=False)
