"""The interface every feature extractor implements. Pure functions of the pixels: no Django."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from PIL import Image


class ExtractorUnavailable(RuntimeError):
    """The extractor cannot run here (e.g. no CNN weights); the message says why."""


class FeatureExtractor(ABC):
    #: stable identifier stored with each vector
    name: str
    #: bump when the output changes meaning; vectors of other versions are ignored
    version: int
    #: length of the vector `extract` returns
    dim: int
    #: the longest side the extractor wants; callers may decode to this size (JPEG draft mode)
    input_side: int = 512

    @abstractmethod
    def extract(self, image: Image.Image) -> np.ndarray:
        """One RGB image (8-bit sRGB, EXIF-oriented) → float32 vector of length `dim`."""

    def extract_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Many images → float32 array of shape (len(images), dim)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.extract(image) for image in images]).astype(np.float32)

    def check_available(self) -> None:  # noqa: B027 (optional hook: most extractors always run)
        """Raise `ExtractorUnavailable` with the reason when the extractor cannot run."""

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"
