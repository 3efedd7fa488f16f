"""The CNN extractor inside the real processing step and index (shared EfficientNet-Lite0)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from photos.models import Photo
from recommender.extraction import extractor_availability
from recommender.models import ClusterRun, FeatureVector
from recommender.selectors import similar_to_image, similar_to_photo
from recommender.services import recluster
from tests.helpers.images import gradient_image, jpeg_file
from tests.helpers.shared_photos import LITE0_MODEL, require


@pytest.fixture
def with_cnn(settings):
    settings.STYLEFINDER_EXTRACTORS = ["style", "cnn"]
    settings.STYLEFINDER_CNN_WEIGHTS = str(require(LITE0_MODEL))


def jpeg(seed: int, grey: bool = False) -> io.BytesIO:
    image = gradient_image((160, 120), seed=seed)
    image = Image.fromarray(np.roll(np.asarray(image), seed * 29, axis=0))
    if grey:
        image = image.convert("L").convert("RGB")
    return jpeg_file(image, f"cnn-{seed}.jpg", quality=90)


def test_processing_stores_cnn_vectors_and_the_index_uses_them(with_cnn, ingest):
    photos = [ingest(jpeg(i, grey=i % 2 == 0)) for i in range(6)]
    assert all(p.status == Photo.Status.READY for p in photos), [p.error for p in photos]
    vector = FeatureVector.objects.get(photo=photos[0], extractor="cnn")
    assert vector.dim == 1280 + 2 * (32 + 24) + 32 * 31 // 2 + 24 * 23 // 2
    assert np.isfinite(vector.array).all()

    run = recluster().run
    assert run.config["features"] == ["cnn", "style"]
    assert run.config["cnn_layout"] == {
        "embedding": [0, 1280],
        "style_stats": [1280, 1392],
        "style_correlations": [1392, 2164],
    }
    # The look block reads the style features and the CNN's statistics and correlations (the
    # shipped metric was fitted on this CNN); the content embedding is the small second weight.
    assert run.config["blocks"] == ["cnn.content", "look"]
    assert run.config["look_inputs"] == ["style", "cnn.style", "cnn.correlations"]
    assert run.config["cnn_signature"].startswith("efficientnet_lite0_imagenet.keras|224|")
    assert "cnn@2" in run.config["extractors"]
    assert len(similar_to_photo(photos[0], k=3)) == 3
    results = similar_to_image(Image.open(jpeg(40, grey=True)), k=3)
    assert len(results) == 3


def test_a_gallery_of_older_cnn_vectors_is_re_extracted_by_the_next_re_cluster(with_cnn, ingest):
    """Vectors of CNN version 1 (no channel correlations) are replaced at the next re-cluster,
    so an upgraded gallery gets the metric over the correlations without re-uploading."""
    photos = [ingest(jpeg(i, grey=i % 2 == 0)) for i in range(4)]
    current = {v.photo_id: v.array.copy() for v in FeatureVector.objects.filter(extractor="cnn")}
    for vector in FeatureVector.objects.filter(extractor="cnn"):
        old = vector.array[:1392]  # what version 1 stored: embedding and statistics
        vector.version, vector.dim, vector.data = 1, len(old), FeatureVector.encode(old)
        vector.save()

    run = recluster().run
    assert run.n_photos == 4
    assert run.config["look_inputs"] == ["style", "cnn.style", "cnn.correlations"]
    vectors = FeatureVector.objects.filter(extractor="cnn")
    assert sorted(v.version for v in vectors) == [2, 2, 2, 2]  # the old rows are gone
    for vector in vectors:
        np.testing.assert_allclose(vector.array, current[vector.photo_id], atol=1e-4)
    assert {p.pk for p in photos} == {v.photo_id for v in vectors}


def test_without_weights_photos_are_processed_on_style_alone(settings, ingest):
    settings.STYLEFINDER_EXTRACTORS = ["style", "cnn"]
    settings.STYLEFINDER_CNN_WEIGHTS = "/nonexistent/model.keras"
    ok, reason = extractor_availability("cnn")
    assert not ok
    assert "/nonexistent/model.keras" in reason
    assert "style features" in reason

    photos = [ingest(jpeg(i)) for i in range(3)]
    assert all(p.status == Photo.Status.READY for p in photos)
    assert not FeatureVector.objects.filter(extractor="cnn").exists()
    run = recluster().run
    assert isinstance(run, ClusterRun)
    assert run.config["features"] == ["style"]
    assert not any(block.startswith("cnn") for block in run.config["blocks"])


def test_with_the_cnn_the_scene_mode_compares_the_subject(with_cnn, ingest):
    from recommender.modes import Mode
    from recommender.selectors import served_mode

    photos = [ingest(jpeg(i, grey=i % 2 == 0)) for i in range(6)]
    recluster()
    assert served_mode(Mode.SCENE) == Mode.SCENE
    scene = similar_to_photo(photos[0], k=3, mode=Mode.SCENE)
    assert len(scene) == 3 and photos[0].pk not in [r.photo.pk for r in scene]
    assert all(r.reasons[0] == "similar subject" for r in scene)
    look = similar_to_photo(photos[0], k=3, mode=Mode.LOOK)
    assert len(look) == 3 and all("similar subject" not in r.reasons for r in look)


def test_other_edits_of_a_photo_come_after_other_photos_in_the_look(with_cnn, ingest):
    """DESIGN §4: a photo's similar-style list shows other photos in its look before another
    edit of itself; the scene mode, which is about the subject, shows that edit first."""
    from PIL import ImageEnhance

    from recommender.modes import Mode
    from tests.helpers.shared_photos import ELEMENTARY

    files = sorted(require(ELEMENTARY).glob("*.jpg"))[::9][:6]

    def upload(path, graded: bool):
        image = Image.open(path).convert("RGB")
        image.thumbnail((320, 320))
        if graded:  # a warm, contrasty grade
            r, g, b = ImageEnhance.Contrast(image).enhance(1.4).split()
            image = Image.merge(
                "RGB", (r.point(lambda v: min(255, v * 1.15)), g, b.point(lambda v: v * 0.8))
            )
        return ingest(jpeg_file(image, f"{path.stem}-{'graded' if graded else 'original'}.jpg"))

    original = upload(files[0], graded=False)
    query = upload(files[0], graded=True)
    others = [upload(path, graded=i < 3) for i, path in enumerate(files[1:])]
    run = recluster().run
    assert run.config["space"]["copy_threshold"] is not None

    listed = [r.photo.pk for r in similar_to_photo(query, k=len(others) + 1)]
    assert listed[-1] == original.pk, listed  # the other edit last, after every other photo
    assert sorted(listed[:-1]) == sorted(p.pk for p in others)
    look = [r.photo.pk for r in similar_to_photo(query, k=len(others) + 1, mode=Mode.LOOK)]
    assert look[-1] == original.pk
    scene = [r.photo.pk for r in similar_to_photo(query, k=3, mode=Mode.SCENE)]
    assert scene[0] == original.pk
