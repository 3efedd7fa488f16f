"""Galleries in distinct styles and the albums a re-cluster would make of them (shared by the
album tests of the recommender, the gallery and the browser)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance

from photos.models import Photo
from recommender import albums
from recommender.features.style import StyleExtractor
from recommender.models import Album, Cluster, ClusterRun, FeatureVector, Membership
from recommender.selectors import space_cache
from tests.helpers.images import gradient_image


def styled(seed: int, style: str) -> Image.Image:
    """Distinct scenes in clearly different styles: dark B&W ("noir"), bright warm colour
    ("warm") or cool, soft, pale colour ("frost")."""
    image = gradient_image((240, 160), seed=seed)
    rng = np.random.default_rng(seed)
    pixels = np.roll(np.asarray(image, dtype=np.float32), int(rng.integers(0, 240)), axis=1)
    image = Image.fromarray(pixels.astype(np.uint8))
    if style == "noir":
        return ImageEnhance.Brightness(image.convert("L").convert("RGB")).enhance(0.45)
    if style == "frost":
        pale = np.asarray(image, dtype=np.float32) * 0.35 + 150
        return Image.fromarray(np.clip(pale * [0.85, 0.97, 1.12], 0, 255).astype(np.uint8))
    warm = np.asarray(ImageEnhance.Brightness(image).enhance(1.3), dtype=np.float32)
    return Image.fromarray(np.clip(warm * [1.15, 1.0, 0.7], 0, 255).astype(np.uint8))


def jpeg_file(image: Image.Image, name: str) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    buffer.seek(0)
    buffer.name = name
    return buffer


def style_vector(image: Image.Image) -> np.ndarray:
    return StyleExtractor().extract(image)


def build_albums(
    run: ClusterRun, groups: dict[str, list[Photo]], hidden: tuple[str, ...] = ()
) -> dict[str, Album]:
    """What the re-cluster orchestration writes for `run`: one album and cluster per group, each
    photo's membership at its cosine distance to the group's centroid, the nearest as cover."""
    Cluster.objects.filter(run=run).delete()  # whatever the build itself made, if anything
    Album.objects.all().delete()
    space = space_cache.get(run)
    made = {}
    for label, (key, photos) in enumerate(groups.items()):
        rows = space.matrix[[space.row(photo.pk) for photo in photos]]
        centre = rows.mean(axis=0)
        centre /= np.linalg.norm(centre)
        distances = 1.0 - rows @ centre
        vectors = np.stack(
            [FeatureVector.objects.get(photo=p, extractor="style").array for p in photos]
        )
        name, attributes = albums.describe_cluster(vectors)
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
    albums.centroid_cache.clear()
    return made
