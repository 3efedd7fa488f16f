"""The demo gallery: real photographs shipped inside installed packages, in every look.

No network: the sources are image files that scikit-image and scikit-learn install with the package
itself (read straight from disk, never through ``skimage.data``'s downloader). Each source is
rendered in every look of `photos.looks` as a JPEG; the parameters are jittered with a seed fixed
per (source, look), so a re-run produces identical bytes and the library recognises them as
duplicates. Same look = same style group, which is what the recommender should find.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from .looks import LOOK_LABELS, LOOKS, apply_look

logger = logging.getLogger(__name__)

JPEG_QUALITY = 90
# Sources larger than this are reduced (never enlarged); the shipped photos are ~400-1000 px.
MAX_SIDE = 1024


@dataclass(frozen=True)
class DemoSource:
    key: str  # short slug used in filenames ("coffee")
    title: str
    package: str  # the installed package that ships the file
    path: str  # path inside that package
    description: str
    credit: str

    def location(self) -> Path:
        return Path(str(resources.files(self.package).joinpath(self.path)))


class DemoPhoto(NamedTuple):
    filename: str
    title: str
    description: str
    data: bytes
    look: str
    source: str


# Colour photographs only: a grayscale source would make its "original" a black & white photo and
# blur the style groups. Credits as given by the packages' own documentation.
DEMO_SOURCES: tuple[DemoSource, ...] = (
    DemoSource(
        "astronaut",
        "Astronaut",
        "skimage",
        "data/astronaut.png",
        "Portrait of astronaut Eileen Collins in her orange flight suit.",
        "NASA Great Images database; public domain (scikit-image sample data).",
    ),
    DemoSource(
        "chelsea",
        "Chelsea the cat",
        "skimage",
        "data/chelsea.png",
        "Close-up of a tabby cat.",
        "Stefan van der Walt, CC0 (scikit-image sample data).",
    ),
    DemoSource(
        "coffee",
        "Coffee",
        "skimage",
        "data/coffee.png",
        "An espresso cup on a wooden table, courtesy of Pikolo Espresso Bar.",
        "Rachel Michetti, CC0 (scikit-image sample data).",
    ),
    DemoSource(
        "rocket",
        "Rocket",
        "skimage",
        "data/rocket.jpg",
        "Falcon 9 carrying DSCOVR on the launch pad at dusk, Cape Canaveral.",
        "SpaceX, public domain (scikit-image sample data).",
    ),
    DemoSource(
        "motorcycle",
        "Motorcycle",
        "skimage",
        "data/motorcycle_left.png",
        "A red motorcycle in a workshop.",
        "Middlebury 2014 stereo dataset, Scharstein et al. (scikit-image sample data).",
    ),
    DemoSource(
        "hubble",
        "Hubble deep field",
        "skimage",
        "data/hubble_deep_field.jpg",
        "The Hubble eXtreme Deep Field: thousands of galaxies in the dark.",
        "NASA/ESA HubbleSite; public domain (scikit-image sample data).",
    ),
    DemoSource(
        "china",
        "Summer Palace",
        "sklearn",
        "datasets/images/china.jpg",
        "The Tower of Buddhist Incense at the Summer Palace, Beijing.",
        "danielbuechele on Flickr, CC BY 2.0 (scikit-learn sample images).",
    ),
    DemoSource(
        "flower",
        "Dahlia",
        "sklearn",
        "datasets/images/flower.jpg",
        "An orange dahlia against dark foliage.",
        "vultilion on Flickr, CC BY 2.0 (scikit-learn sample images).",
    ),
)

# Five looks a visitor tells apart at a glance. With these, 60 % of a demo photo's "Similar style"
# strip is in its own look and 10 % is the same subject in another look; with all nine looks it
# was 33 % and 32 % (`python benchmarks/demo_similar.py`). The demo is a showcase, not a
# measurement: retrieval quality is measured on sets it was not designed against (README).
DEMO_LOOKS: tuple[str, ...] = ("black_white", "sepia", "faded", "cool", "warm")


def available_sources() -> list[DemoSource]:
    """The sources whose files are installed (a missing file is skipped with a warning)."""
    found = []
    for source in DEMO_SOURCES:
        try:
            present = source.location().is_file()
        except (ModuleNotFoundError, TypeError):
            present = False
        if present:
            found.append(source)
        else:
            logger.warning(
                "Demo source %s/%s is not installed; skipped", source.package, source.path
            )
    return found


def demo_photo_count() -> int:
    """How many photos `iter_demo_photos()` yields, without rendering any."""
    return len(available_sources()) * len(DEMO_LOOKS)


def look_seed(source: str, look: str) -> int:
    """A seed fixed for one (source, look) pair, stable across processes and Python versions."""
    digest = hashlib.sha256(f"stylefinder-demo:{source}:{look}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def load_source(source: DemoSource) -> Image.Image:
    with Image.open(source.location()) as opened:
        image = opened.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return image


def encode_jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def render(source: DemoSource, look: str, image: Image.Image | None = None) -> DemoPhoto:
    """One demo photo: ``source`` in ``look``, as deterministic JPEG bytes."""
    image = image if image is not None else load_source(source)
    rng = None if look == "original" else np.random.default_rng(look_seed(source.key, look))
    styled = apply_look(image, look, rng)
    label = LOOK_LABELS[look]
    what = (LOOKS[look].__doc__ or "").strip().splitlines()[0].partition(": ")[2]
    look_line = f"Look: {label} — {what}" if what else f"Look: {label}"
    return DemoPhoto(
        filename=f"{source.key}-{look.replace('_', '-')}.jpg",
        title=f"{source.title} — {label}",
        description=f"{source.description}\n\n{look_line}\nPhoto: {source.credit}",
        data=encode_jpeg(styled),
        look=look,
        source=source.key,
    )


def demo_order(sources: int, looks: int) -> list[tuple[int, int]]:
    """(source, look) index pairs in the order they are imported: round r shows every source once,
    source s in look (s + r) mod looks. Any run of consecutive photos (a gallery page, newest
    first) then mixes subjects and looks instead of showing one subject in every look in a row."""
    return [(s, (s + r) % looks) for r in range(looks) for s in range(sources)]


def iter_demo_photos() -> Iterator[DemoPhoto]:
    """Every installed source in every look, interleaved (`demo_order`), one JPEG at a time."""
    sources = available_sources()
    images = [load_source(source) for source in sources]
    for s, look in demo_order(len(sources), len(DEMO_LOOKS)):
        yield render(sources[s], DEMO_LOOKS[look], images[s])
