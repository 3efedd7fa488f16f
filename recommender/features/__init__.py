"""Feature extractors, one module each, and the registry the rest of the app asks for them."""

from __future__ import annotations

import logging
from functools import cache

from .base import ExtractorUnavailable, FeatureExtractor
from .style import StyleExtractor

logger = logging.getLogger(__name__)

KNOWN_EXTRACTORS = ("style", "cnn")


@cache
def get_extractor(name: str) -> FeatureExtractor:
    """One shared instance per extractor per process (the CNN model loads once)."""
    if name == "style":
        return StyleExtractor()
    if name == "cnn":
        from .cnn import CnnExtractor

        return CnnExtractor()
    raise KeyError(f"Unknown feature extractor {name!r}; known: {', '.join(KNOWN_EXTRACTORS)}")


_reported: set[str] = set()


def availability(name: str) -> tuple[bool, str]:
    """(available, reason) for the admin and logs. Any failure to load counts as unavailable:
    a missing package or a broken model file must not stop photos from being processed."""
    try:
        get_extractor(name).check_available()
    except ExtractorUnavailable as exc:
        return False, str(exc)
    except Exception as exc:
        return False, f"The {name} extractor could not be loaded: {type(exc).__name__}: {exc}"
    return True, "available"


def usable_extractors(names: list[str]) -> list[FeatureExtractor]:
    """The named extractors that can run here; unavailable ones are skipped (and logged once)."""
    usable = []
    for name in names:
        ok, reason = availability(name)
        if ok:
            usable.append(get_extractor(name))
        elif name not in _reported:
            _reported.add(name)
            logger.warning("Feature extractor %r is unavailable: %s", name, reason)
    return usable


__all__ = [
    "ExtractorUnavailable",
    "FeatureExtractor",
    "StyleExtractor",
    "availability",
    "get_extractor",
    "usable_extractors",
]
