"""What "similar" means: the default list, the look alone, or the scene.

- ``default``: the site's notion of similar style, the weights of the photographer's settings
  (look first; the stored neighbours of each photo are this list).
- ``look``: the learned look block alone (without a look metric: the hand-made style blocks):
  other photos in the same grade, whatever they show.
- ``scene``: what the photo shows and where it was taken: the CNN's content embedding, then,
  where both photos have EXIF, capture time, camera and lens (`scene_bonus`). Without the CNN
  the scene cannot be seen, and the mode falls back to the default list.

A mode is a *view* of the active run's space (`StyleSpace.view`): the same stored vectors
compared by other blocks, exact and computed once per process and run. No Django here.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime

from .blocks import LOOK_BLOCK, STYLE_FAMILY_WEIGHTS
from .space import StyleSpace


class Mode(enum.StrEnum):
    DEFAULT = "default"
    LOOK = "look"
    SCENE = "scene"


MODE_CHOICES = [(mode.value, mode.value) for mode in Mode]


@dataclass(frozen=True)
class ModeSettings:
    """Which modes the photographer offers (`RecommenderSettings`); the default always."""

    offered: frozenset[Mode] = frozenset(Mode)
    same_scene_strip: bool = True


#: blocks and weights of each non-default mode, first choice first
MODE_WEIGHTS: dict[Mode, list[dict[str, float]]] = {
    Mode.LOOK: [
        {LOOK_BLOCK: 1.0},
        {f"style.{family}": factor for family, factor in STYLE_FAMILY_WEIGHTS.items()},
    ],
    Mode.SCENE: [{"cnn.content": 1.0}],
}

SCENE_HOURS = 36.0  # capture times this far apart still count half as "the same shoot"
SCENE_TIME_WEIGHT = 0.3
SCENE_CAMERA_WEIGHT = 0.05
SCENE_LENS_WEIGHT = 0.05
SCENE_CANDIDATES = 100  # re-ranked with EXIF after the content search


def parse_mode(value: str | None) -> Mode:
    """A mode from a query parameter; blank means the default. Raises ValueError naming the
    choices."""
    text = (value or "").strip().lower()
    if not text:
        return Mode.DEFAULT
    try:
        return Mode(text)
    except ValueError:
        choices = ", ".join(mode.value for mode in Mode)
        raise ValueError(f"Unknown mode {value!r}; choose one of {choices}.") from None


def mode_space(space: StyleSpace, mode: Mode) -> StyleSpace | None:
    """The view of `space` for `mode` (cached on the space), or None for the default list or when
    the run has none of the mode's blocks."""
    if mode == Mode.DEFAULT:
        return None
    views = space.__dict__.setdefault("_mode_views", {})
    if mode not in views:
        copies_last = mode != Mode.SCENE  # a scene wants the other edits of its photo
        views[mode] = next(
            (
                view
                for weights in MODE_WEIGHTS[mode]
                if (view := space.view(weights, copies_last)) is not None
            ),
            None,
        )
    return views[mode]


def scene_bonus(
    query: tuple[datetime | None, str, str], candidate: tuple[datetime | None, str, str]
) -> float:
    """Added to the content similarity in ``scene`` mode: (taken_at, camera, lens) of each photo.
    Time counts most (a shoot is hours, a trip days); equal camera or lens a little."""
    bonus = 0.0
    (q_time, q_camera, q_lens), (c_time, c_camera, c_lens) = query, candidate
    if q_time is not None and c_time is not None:
        hours = abs((q_time - c_time).total_seconds()) / 3600.0
        bonus += SCENE_TIME_WEIGHT * math.exp(-hours / SCENE_HOURS * math.log(2))
    if q_camera and q_camera == c_camera:
        bonus += SCENE_CAMERA_WEIGHT
    if q_lens and q_lens == c_lens:
        bonus += SCENE_LENS_WEIGHT
    return bonus


def scene_reasons(
    query: tuple[datetime | None, str, str] | None, candidate: tuple[datetime | None, str, str]
) -> list[str]:
    """What matched in ``scene`` mode, for the list's captions: the subject always (that is
    what the content embedding compares), then what the EXIF of both photos shares."""
    reasons = ["similar subject"]
    if query is None:
        return reasons
    (q_time, q_camera, q_lens), (c_time, c_camera, c_lens) = query, candidate
    if q_time is not None and c_time is not None:
        hours = abs((q_time - c_time).total_seconds()) / 3600.0
        if hours < 24:
            reasons.append("taken the same day")
        elif hours < 24 * 7:
            reasons.append("taken the same week")
    if q_camera and q_camera == c_camera:
        reasons.append("same camera")
    if q_lens and q_lens == c_lens:
        reasons.append("same lens")
    return reasons
