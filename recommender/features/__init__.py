"""Feature extractors, one module each, and the registry that hands out shared instances.

A pure library: no Django here. Configuration is passed in (`CnnConfig` for the CNN); the site
builds it from its settings in `recommender.extraction`.
"""

from __future__ import annotations

from functools import cache

from .base import ExtractorUnavailable, FeatureExtractor
from .cnn import CnnConfig, CnnExtractor
from .style import StyleExtractor

KNOWN_EXTRACTORS = ("style", "cnn")


@cache
def get_extractor(name: str, cnn_config: CnnConfig | None = None) -> FeatureExtractor:
    """One shared instance per extractor (for cnn: per configuration, default `CnnConfig()`) per
    process, so the CNN model loads once. `cnn_config` is ignored by the other extractors."""
    if name == "style":
        return StyleExtractor()
    if name == "cnn":
        return CnnExtractor(cnn_config)
    raise KeyError(f"Unknown feature extractor {name!r}; known: {', '.join(KNOWN_EXTRACTORS)}")


def availability(name: str, cnn_config: CnnConfig | None = None) -> tuple[bool, str]:
    """(available, reason) for the admin and logs. Any failure to load counts as unavailable:
    a missing package or a broken model file must not stop photos from being processed."""
    try:
        get_extractor(name, cnn_config).check_available()
    except ExtractorUnavailable as exc:
        return False, str(exc)
    except Exception as exc:
        return False, f"The {name} extractor could not be loaded: {type(exc).__name__}: {exc}"
    return True, "available"


__all__ = [
    "KNOWN_EXTRACTORS",
    "CnnConfig",
    "CnnExtractor",
    "ExtractorUnavailable",
    "FeatureExtractor",
    "StyleExtractor",
    "availability",
    "get_extractor",
]
