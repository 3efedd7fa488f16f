"""Galleries in distinct styles and the albums a re-cluster would make of them (shared by the
album tests of the recommender, the gallery and the browser)."""

from __future__ import annotations

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image

from photos.models import Photo
from recommender import albums, naming
from recommender.features.style import StyleExtractor
from recommender.models import Album, Cluster, ClusterRun, FeatureVector, Membership
from recommender.selectors import space_cache
from recommender.space import ClusterCentres


def style_vector(image: Image.Image) -> np.ndarray:
    return StyleExtractor().extract(image)


def build_albums(
    run: ClusterRun, groups: dict[str, list[Photo]], hidden: tuple[str, ...] = ()
) -> dict[str, Album]:
    """What the re-cluster orchestration writes for `run`: one album and cluster per group, each
    photo's membership at its cosine distance to the group's centroid, the nearest as cover,
    and the centres in the run's index file."""
    Cluster.objects.filter(run=run).delete()  # whatever the build itself made, if anything
    Album.objects.all().delete()
    space = space_cache.get(run)
    made, cluster_ids, centres = {}, [], []
    for label, (key, photos) in enumerate(groups.items()):
        rows = space.rows_at([space.row(photo.pk) for photo in photos])
        centre = rows.mean(axis=0)
        centre /= np.linalg.norm(centre)
        distances = 1.0 - rows @ centre
        vectors = np.stack(
            [FeatureVector.objects.get(photo=p, extractor="style").array for p in photos]
        )
        name, attributes = naming.describe_cluster(vectors)
        album = Album.objects.create(auto_name=name, hidden=key in hidden)
        cluster = Cluster.objects.create(
            run=run,
            label=label,
            album=album,
            size=len(photos),
            cover=photos[int(np.argmin(distances))],
            attributes=attributes,
        )
        Membership.objects.bulk_create(
            Membership(run=run, photo=photo, cluster=cluster, distance=float(distance))
            for photo, distance in zip(photos, distances, strict=True)
        )
        made[key] = album
        cluster_ids.append(cluster.pk)
        centres.append(centre)
    # The index file keeps the run's cluster centres, as the re-cluster writes them.
    space.centres = ClusterCentres(np.array(cluster_ids), np.stack(centres).astype(np.float32))
    name = run.space_file.name.rsplit("/", 1)[-1]
    run.space_file.save(name, ContentFile(space.to_bytes()))
    space_cache.clear()
    albums.centroid_cache.clear()
    return made
