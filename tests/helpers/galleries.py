"""Small galleries the recommender tests build through the real ingest path."""

from __future__ import annotations

from tests.helpers.images import jpeg_file, styled


def two_looks(ingest, settle, per_look: int = 6) -> dict[str, list]:
    """`per_look` black & white and as many warm photos, ingested in turn, then the writer
    settles (the embedded default indexes them): {"noir": [...], "warm": [...]}."""
    photos: dict[str, list] = {"noir": [], "warm": []}
    for i in range(per_look):
        for style in photos:
            photos[style].append(ingest(jpeg_file(styled(i, style), f"{style}-{i}.jpg")))
    settle()
    return photos
