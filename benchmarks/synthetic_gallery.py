"""A large gallery made of database rows alone, for the scale benchmarks and the integration
test of incremental adds: ready, public photos (no files) whose feature vectors are given.

Needs a configured Django (the benchmarks' child processes, or a test's database).
"""

from __future__ import annotations

import numpy as np

BATCH = 5000


def populate(vectors: dict[str, np.ndarray], *, first: int = 0) -> list[int]:
    """One ready, public photo per row of `vectors` (extractor name → (n, d) array, rows
    aligned), with those vectors stored as the configured extractors' current version; returns
    the photos' ids. `first` numbers the photos (titles, unique hashes) after earlier calls."""
    from django.db import transaction

    from photos.models import Photo
    from recommender.extraction import configured_extractor
    from recommender.models import FeatureVector

    n = len(next(iter(vectors.values())))
    versions = {name: configured_extractor(name).version for name in vectors}
    ids: list[int] = []
    # A batch at a time: Django holds every object a bulk_create is given, and a million CNN
    # vectors as model instances would not fit in memory.
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        with transaction.atomic():
            photos = Photo.objects.bulk_create(
                Photo(
                    original=f"originals/synthetic-{i}.jpg",
                    original_filename=f"synthetic-{i}.jpg",
                    title=f"Synthetic {i}",
                    sha256=f"{i:064x}",
                    width=1024,
                    height=683,
                    status=Photo.Status.READY,
                    published=True,
                )
                for i in range(first + start, first + stop)
            )
            for name, rows in vectors.items():
                FeatureVector.objects.bulk_create(
                    FeatureVector(
                        photo=photo,
                        extractor=name,
                        version=versions[name],
                        dim=rows.shape[1],
                        data=FeatureVector.encode(row),
                    )
                    for photo, row in zip(photos, rows[start:stop], strict=True)
                )
        ids += [photo.pk for photo in photos]
    return ids
