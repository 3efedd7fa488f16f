"""Feature extraction: which extractors run here, their vectors for a photo or an image, and
the stored vectors of many photos at once.

The one place where Django settings become extractor configuration (`cnn_config_from_settings`):
`recommender.features` itself knows nothing of Django.
"""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from PIL import Image

from .features import FeatureExtractor, availability, get_extractor
from .features.cnn import SETTING_NAMES, CnnConfig
from .models import FeatureVector, RecommenderSettings

logger = logging.getLogger(__name__)

_reported: set[str] = set()  # extractors whose unavailability has been logged in this process


def cnn_config_from_settings() -> CnnConfig:
    """The CNN's configuration from the ``STYLEFINDER_CNN_*`` settings (config/settings.py reads
    them from the environment). A bad value raises `ValueError` naming the setting."""
    return CnnConfig.from_mapping(
        {name: getattr(settings, name) for name in SETTING_NAMES.values()}
    )


def _config_for(name: str) -> CnnConfig | None:
    return cnn_config_from_settings() if name == "cnn" else None


def configured_extractor(name: str) -> FeatureExtractor:
    """The shared extractor `name`, configured from settings (loaded once per configuration),
    whether or not it is enabled or available."""
    return get_extractor(name, _config_for(name))


def extractor_availability(name: str) -> tuple[bool, str]:
    """(available, reason) of the extractor `name` as configured here, for the admin and logs.
    A bad setting makes it unavailable (the site then runs on the other extractors)."""
    try:
        config = _config_for(name)
    except ValueError as exc:
        return False, f"The {name} extractor is misconfigured: {exc}."
    return availability(name, config)


def configured_extractors(among: set[str] | None = None) -> list[FeatureExtractor]:
    """Extractors enabled in settings (and, for cnn, in the admin) that can run here; unavailable
    ones are skipped (and logged once per process). `among`: only these names are considered,
    so that a query against a style-only index never loads the CNN (and TensorFlow)."""
    names = [n for n in settings.STYLEFINDER_EXTRACTORS if among is None or n in among]
    if "cnn" in names and not RecommenderSettings.load().cnn_enabled:
        names.remove("cnn")
    usable = []
    for name in names:
        ok, reason = extractor_availability(name)
        if ok:
            usable.append(configured_extractor(name))
        elif name not in _reported:
            _reported.add(name)
            logger.warning("Feature extractor %r is unavailable: %s", name, reason)
    return usable


def extract_image_features(
    image: Image.Image, extractors: list[FeatureExtractor]
) -> dict[str, np.ndarray]:
    """Run extractors on one decoded image: {extractor name: vector}."""
    return {extractor.name: extractor.extract(image) for extractor in extractors}


#: more ids than this are not sent as an IN list: a re-cluster asks for every public photo, and
#: PostgreSQL took 11 s to match a million ids against a million vectors, against 4 s to read
#: them all and skip the others here
IN_LIST_MAX = 10_000


def load_vectors(photo_ids: list[int], extractors: list[tuple[str, int]]) -> dict[str, np.ndarray]:
    """{extractor: (len(photo_ids), dim) array} with NaN rows where a photo lacks a vector."""
    row_of = {pid: i for i, pid in enumerate(photo_ids)}
    out: dict[str, np.ndarray] = {}
    for name, version in extractors:
        rows = FeatureVector.objects.filter(extractor=name, version=version)
        if len(photo_ids) <= IN_LIST_MAX:
            rows = rows.filter(photo_id__in=photo_ids)
        matrix = None
        for photo_id, data in rows.values_list("photo_id", "data").iterator(chunk_size=2000):
            if photo_id not in row_of:  # a photo not asked for (read with the rest, see above)
                continue
            vector = np.frombuffer(bytes(data), dtype="<f4")
            if matrix is None:
                matrix = np.full((len(photo_ids), vector.shape[0]), np.nan, np.float32)
            if vector.shape[0] == matrix.shape[1]:
                matrix[row_of[photo_id]] = vector
        if matrix is not None:
            out[name] = matrix
    return out
