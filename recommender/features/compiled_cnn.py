"""A compiled copy of the CNN: converted to LiteRT once, then run without TensorFlow.

Importing TensorFlow and building the Keras model costs a process 3–6 s (and hundreds of MB);
opening the same network as a LiteRT flatbuffer costs under 0.1 s, and its XNNPACK kernels run a
batch faster than Keras on this CPU. So the first process that loads a configuration through
Keras converts its feature model (input → the whole vector: embedding and style statistics, the
application's `preprocess_input` included) with TensorFlow's own converter and stores it in
``STYLEFINDER_CNN_CACHE_DIR``; every later process (web workers, Celery children, the import
command, the demo) opens that file with ``ai-edge-litert``. Both runtimes compute the same vector
(within 1e-5 of its scale, checked in tests/recommender/test_compiled_cnn.py).

A copy is named by everything its vector depends on: the weights file's content (not its path),
the model and layer settings, and the versions of the converter and the runtime. It is written
atomically, so processes converting at once cannot leave half a file; a copy that cannot be
opened is replaced by a new conversion.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .native_output import filtered_stderr, silenced_stdout

logger = logging.getLogger(__name__)

#: Bumped when the way a copy is built or described changes: older copies are then ignored.
FORMAT = 2  # 2: the vector holds the style layers' channel correlations
RUNTIME_PACKAGE = "ai-edge-litert"
CONVERTER_PACKAGES = ("tensorflow-cpu", "tensorflow", "keras")
# What LiteRT prints when it opens a model, whatever the log level: not for a user to act on.
RUNTIME_NOISE = re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/stylefinder/cnn``, else ``~/.cache/stylefinder/cnn``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stylefinder" / "cnn"


def runtime_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except Exception:  # not installed, or no wheel for this platform
        return False
    return True


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_name(weights: Path | None, model_settings: tuple[Any, ...]) -> str:
    """The file stem of the copy for these weights (by content) and model settings."""
    identity = {
        "format": FORMAT,
        "weights": _file_digest(weights) if weights is not None else None,
        "settings": [list(v) if isinstance(v, tuple) else v for v in model_settings],
        "versions": {name: _version(name) for name in (*CONVERTER_PACKAGES, RUNTIME_PACKAGE)},
    }
    text = json.dumps(identity, sort_keys=True)
    return "cnn-" + hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class CompiledCopy:
    """Where the copy of one configuration lives: ``<stem>.tflite`` and ``<stem>.json``."""

    folder: Path
    stem: str

    @property
    def model_path(self) -> Path:
        return self.folder / f"{self.stem}.tflite"

    @property
    def meta_path(self) -> Path:
        return self.folder / f"{self.stem}.json"

    def exists(self) -> bool:
        return self.model_path.is_file() and self.meta_path.is_file()

    def read_meta(self) -> dict[str, Any]:
        return json.loads(self.meta_path.read_text(encoding="utf-8"))

    def write(self, flatbuffer: bytes, meta: dict[str, Any]) -> None:
        """Both files, each written to a temporary name and renamed: never half a copy."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for path, data in (
            (self.model_path, flatbuffer),
            (self.meta_path, json.dumps(meta, indent=1).encode("utf-8")),
        ):
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.chmod(temporary, 0o644)  # web and worker processes may run as other users
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise

    def discard(self) -> None:
        for path in (self.model_path, self.meta_path):
            with contextlib.suppress(OSError):
                path.unlink()


def convert(
    keras: Any, vector_model: Any, side: int, preprocess: Callable[[Any], Any] | None
) -> bytes:
    """`vector_model` (raw batch → feature vectors), with `preprocess` in front, as LiteRT."""
    import tensorflow as tf  # Keras' only backend here (requirements.txt: tensorflow-cpu)

    image = keras.Input((side, side, 3), name="image")
    prepared = preprocess(image) if preprocess is not None else image
    whole = keras.Model(image, vector_model(prepared), name="stylefinder_cnn_compiled")
    with silenced_stdout():  # the converter lists every captured variable there
        return tf.lite.TFLiteConverter.from_keras_model(whole).convert()


class LiteRtForward:
    """Runs a copy: raw float32 batch (n, side, side, 3) → vectors (n, dim). Not thread-safe
    (the caller holds the backbone's lock); the input is resized only when the batch size
    changes."""

    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with filtered_stderr(RUNTIME_NOISE):
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self._interpreter.allocate_tensors()  # where the delegate is created (and announced)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = int(self._interpreter.get_input_details()[0]["shape"][0])
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            if batch.shape[0] != self._batch:
                self._interpreter.resize_tensor_input(self._input, list(batch.shape))
                self._interpreter.allocate_tensors()
                self._batch = batch.shape[0]
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output), dtype=np.float32)
