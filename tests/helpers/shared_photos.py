"""Paths to ../shared (real photos and pretrained models beside the checkout).

Tests that need them call `require(path)`: missing data fails under CI=true and skips elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.environment import unavailable

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ELEMENTARY = SHARED / "photos" / "elementary"
LITE0_MODEL = SHARED / "models" / "efficientnet_lite0_imagenet.keras"
IMAGENET_LABELS = SHARED / "models" / "imagenet_labels.txt"


def require(path: Path) -> Path:
    if not path.exists():
        unavailable(f"{path} is missing: ../shared must be beside the checkout")
    return path
