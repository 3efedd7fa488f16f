"""Albums (recommender.albums): naming clusters, carrying albums across runs, and the read side
(visible albums, an album's photos, a photo's album, the albums nearest an upload)."""

from __future__ import annotations

import numpy as np
import pytest

from photos.models import Photo
from photos.services import set_published
from recommender import albums, naming
from recommender.explain import style_attributes
from recommender.features.style import StyleExtractor
from recommender.models import Album, Cluster, ClusterRun
from recommender.selectors import space_cache
from recommender.services import recluster
from tests.helpers.albums import build_albums, style_vector
from tests.helpers.images import jpeg_file, styled


@pytest.fixture(autouse=True)
def fresh_centroids():
    albums.centroid_cache.clear()
    yield
    albums.centroid_cache.clear()


# --- naming ------------------------------------------------------------------------------------


def test_black_and_white_low_key_cluster_is_named_so():
    vectors = np.stack([style_vector(styled(i, "noir")) for i in range(6)])
    assert all("black & white" in style_attributes(v) for v in vectors)  # the premise
    name, attributes = naming.describe_cluster(vectors)
    assert name.startswith("Black & white")
    assert "low-key" in name
    assert attributes[:2] == ["black & white", "low-key"]
    assert 2 <= len(name.split(" · ")) <= 3


def test_warm_cluster_is_named_warm():
    vectors = np.stack([style_vector(styled(i, "warm")) for i in range(6)])
    name, attributes = naming.describe_cluster(vectors)
    assert name.startswith("Warm")
    assert attributes[0] == "warm"
    parts = name.split(" · ")
    assert 2 <= len(parts) <= 3
    assert all(part == part.strip() and part for part in parts)
    assert all(not part[0].isupper() for part in parts[1:])


def test_attributes_shared_by_a_minority_do_not_name_the_cluster():
    # Five noir photos and one warm one: still "Black & white", never "warm".
    vectors = np.stack(
        [style_vector(styled(i, "noir")) for i in range(5)] + [style_vector(styled(9, "warm"))]
    )
    name, attributes = naming.describe_cluster(vectors)
    assert name.startswith("Black & white")
    assert "warm" not in attributes


def test_fallback_name_when_nothing_dominates():
    # Three styles, two photos each: no colour attribute is shared by most of them.
    vectors = np.stack(
        [style_vector(styled(i, style)) for i in range(2) for style in ("noir", "warm", "frost")]
    )
    name, attributes = naming.describe_cluster(vectors)
    assert name and name[0].isupper()
    assert 2 <= len(name.split(" · ")) <= 3
    assert not {"black & white", "warm", "cool"} & set(attributes)
    assert not name.startswith(("Black & white", "Warm"))


def _plain(**values: float) -> np.ndarray:
    """A style vector with no descriptive attribute at all, then `values` set."""
    names = StyleExtractor.feature_names
    vector = np.zeros(len(names), np.float32)
    plain = {"luminance_mean": 50, "luminance_std": 20, "chroma_mean": 20, "hue_concentration": 0.3}
    for name, value in {**plain, **values}.items():
        vector[names.index(name)] = value
    return vector


def test_fallback_name_from_colourfulness_and_luminance():
    assert style_attributes(_plain()) == []  # the premise
    assert naming.describe_cluster(np.stack([_plain()] * 3)) == ("Mixed colour · mid tones", [])
    dark_soft = np.stack([_plain(luminance_mean=35, chroma_mean=12)] * 2)
    assert naming.describe_cluster(dark_soft)[0] == "Soft colour · dark tones"
    bright = np.stack([_plain(luminance_mean=63, chroma_mean=24)] * 2)
    assert naming.describe_cluster(bright)[0] == "Mixed colour · light tones"
    # Half of them vivid is not "most": the name falls back, from the median.
    half_vivid = np.stack([_plain(chroma_mean=27)] * 2 + [_plain(chroma_mean=25.5)] * 2)
    name, attributes = naming.describe_cluster(half_vivid)
    assert (name, attributes) == ("Rich colour · mid tones", [])


def test_one_dominant_attribute_is_completed_with_the_tones():
    vector = style_vector(styled(1, "warm"))
    name, _ = naming.describe_cluster(vector[None, :])
    assert name.startswith("Warm · ")


def test_empty_cluster_still_gets_a_name():
    name, attributes = naming.describe_cluster(np.zeros((0, StyleExtractor.dim), np.float32))
    assert name
    assert attributes == []


# --- matching albums across runs ---------------------------------------------------------------


def test_identical_clusters_keep_their_albums():
    previous = {7: {1, 2, 3}, 9: {4, 5, 6}}
    assert albums.match_albums(previous, [{4, 5, 6}, {1, 2, 3}]) == [9, 7]


def test_sixty_percent_overlap_matches():
    previous = {3: set(range(8))}
    moved = set(range(2, 10))  # 6 shared of 10 in either: Jaccard 0.6
    assert albums.match_albums(previous, [moved]) == [3]
    assert albums.match_albums(previous, [moved], min_overlap=0.7) == [None]


def test_a_split_album_goes_to_the_larger_side():
    previous = {5: set(range(10))}
    assert albums.match_albums(previous, [set(range(7, 10)), set(range(7))]) == [None, 5]


def test_a_new_cluster_gets_no_album():
    previous = {1: {1, 2, 3, 4}}
    assert albums.match_albums(previous, [{1, 2, 3, 4}, {10, 11, 12}]) == [1, None]
    assert albums.match_albums(previous, [{1, 20, 21, 22}]) == [None]  # too little overlap
    assert albums.match_albums({}, [{1, 2}]) == [None]
    assert albums.match_albums(previous, []) == []
    assert albums.match_albums(previous, [set()]) == [None]


def test_matching_is_one_to_one_best_first():
    # Both new clusters look like album 1; the closer one wins it, the other is new.
    previous = {1: set(range(10))}
    assert albums.match_albums(previous, [set(range(8)), set(range(10))]) == [None, 1]
    # Two equal halves of one album: the first keeps it, the other is new.
    halves = [set(range(5)), set(range(5, 10))]
    assert albums.match_albums({8: set(range(10))}, halves) == [8, None]


def test_each_album_is_given_at_most_once():
    previous = {1: {1, 2, 3}, 2: {4, 5, 6}, 3: {7, 8, 9}}
    clusters = [{1, 2, 3}, {1, 2, 3, 4}, {4, 5, 6}, {7, 8, 9, 10}]
    result = albums.match_albums(previous, clusters)
    matched = [album for album in result if album is not None]
    assert len(matched) == len(set(matched))
    assert result == [1, None, 2, 3]


# --- read side ---------------------------------------------------------------------------------


@pytest.fixture
def library(ingest) -> dict[str, list[Photo]]:
    """Five noir and five warm photos, indexed; an active run with a noir and a warm album."""
    photos: dict[str, list[Photo]] = {"noir": [], "warm": []}
    for i in range(5):
        for style, bucket in photos.items():
            photo = ingest(jpeg_file(styled(i, style), f"{style}-{i}.jpg"), title=f"{style} {i}")
            assert photo.status == Photo.Status.READY, photo.error
            bucket.append(photo)
    result = recluster()
    assert result.run is not None, result.message
    photos["run"] = result.run
    photos["albums"] = build_albums(result.run, {"noir": photos["noir"], "warm": photos["warm"]})
    return photos


def test_public_albums_have_name_size_and_cover(library, django_assert_max_num_queries):
    run = library["run"]
    with django_assert_max_num_queries(2):
        cards = albums.public_albums(run)
    assert {card.album.pk for card in cards} == {a.pk for a in library["albums"].values()}
    noir = next(card for card in cards if card.album == library["albums"]["noir"])
    assert noir.count == 5
    assert noir.name.startswith("Black & white")
    assert noir.attributes[0] == "black & white"
    cover = Cluster.objects.get(run=run, album=noir.album).cover
    assert noir.cover == cover
    assert noir.cover_thumb.spec == "thumb" and noir.cover_thumb.photo_id == cover.pk
    assert noir.url == f"/albums/{noir.album.pk}/"
    assert albums.public_albums(None) == []


def test_hidden_albums_and_hidden_photos_are_left_out(library):
    run = library["run"]
    noir, warm = library["albums"]["noir"], library["albums"]["warm"]
    Album.objects.filter(pk=warm.pk).update(hidden=True)
    cover = Cluster.objects.get(run=run, album=noir).cover
    set_published([cover], False)
    (card,) = albums.public_albums(run)
    assert card.album == noir
    assert card.count == 4
    assert card.cover is not None and card.cover.pk != cover.pk  # the next nearest public photo
    assert card.cover.published


def test_an_album_of_only_hidden_photos_is_not_shown(library):
    set_published(library["noir"], False)
    cards = albums.public_albums(library["run"])
    assert [card.album for card in cards] == [library["albums"]["warm"]]


def test_album_photos_nearest_the_centre_first(library):
    noir = library["albums"]["noir"]
    cluster = albums.album_cluster(noir.pk)
    assert cluster.run == library["run"] and cluster.album == noir
    memberships = list(albums.album_memberships(cluster))
    distances = [m.distance for m in memberships]
    assert distances == sorted(distances)
    assert {m.photo for m in memberships} == set(library["noir"])
    assert memberships[0].photo == cluster.cover
    set_published([memberships[1].photo], False)
    assert memberships[1].photo not in [m.photo for m in albums.album_memberships(cluster)]


def test_hidden_or_inactive_albums_have_no_cluster(library):
    noir = library["albums"]["noir"]
    Album.objects.filter(pk=noir.pk).update(hidden=True)
    assert albums.album_cluster(noir.pk) is None
    warm = library["albums"]["warm"]
    ClusterRun.objects.filter(pk=library["run"].pk).update(is_active=False)
    assert albums.album_cluster(warm.pk) is None
    assert albums.album_cluster(10_000) is None


def test_album_of_a_photo(library):
    noir, warm = library["albums"]["noir"], library["albums"]["warm"]
    photo = library["warm"][2]
    assert albums.album_of_photo(photo) == warm
    loaded = albums.with_album(Photo.objects.filter(pk=photo.pk)).get()
    found = albums.album_from_annotations(loaded)
    assert (found.pk, found.name, found.get_absolute_url()) == (
        warm.pk,
        warm.name,
        warm.get_absolute_url(),
    )
    Album.objects.filter(pk=noir.pk).update(hidden=True, title="Night")
    assert albums.album_of_photo(library["noir"][0]) is None
    loaded = albums.with_album(Photo.objects.filter(pk=library["noir"][0].pk)).get()
    assert albums.album_from_annotations(loaded) is None
    Album.objects.filter(pk=warm.pk).update(title="Golden hours")
    loaded = albums.with_album(Photo.objects.filter(pk=photo.pk)).get()
    assert albums.album_from_annotations(loaded).name == "Golden hours"


@pytest.mark.parametrize("style", ["noir", "warm"])
def test_nearest_albums_for_an_upload_favour_its_style(library, style):
    cards = albums.nearest_albums_for_image(styled(42, style), k=3)
    assert [card.album for card in cards][0] == library["albums"][style]
    assert len(cards) == 2  # only two albums exist
    assert cards[0].score > cards[1].score
    assert -1.0 <= cards[1].score <= cards[0].score <= 1.0 + 1e-6
    assert cards[0].cover_thumb is not None


def test_nearest_albums_take_raw_features_or_a_row(library):
    run = library["run"]
    space = space_cache.get(run)
    warm_row = space.rows_at(space.row(library["warm"][0].pk))
    assert albums.nearest_albums(warm_row, k=1)[0].album == library["albums"]["warm"]
    features = {"style": style_vector(styled(50, "noir"))}
    assert albums.nearest_albums(features, k=1)[0].album == library["albums"]["noir"]
    assert albums.nearest_albums(features, k=0) == []


def test_nearest_albums_skip_hidden_ones(library):
    Album.objects.filter(pk=library["albums"]["noir"].pk).update(hidden=True)
    cards = albums.nearest_albums_for_image(styled(43, "noir"), k=3)
    assert [card.album for card in cards] == [library["albums"]["warm"]]


def test_centroids_are_computed_once_per_run(library, django_assert_num_queries):
    albums.nearest_albums_for_image(styled(44, "noir"))
    run = library["run"]
    space = space_cache.get(run)
    first = albums.centroid_cache.get(run, space)
    with django_assert_num_queries(0):
        assert albums.centroid_cache.get(run, space) is first
    assert len(first.cluster_ids) == 2
    assert np.allclose(np.linalg.norm(first.matrix, axis=1), 1.0, atol=1e-5)
    # a new run gets new centroids
    new_run = recluster().run
    assert new_run is not None and new_run.pk != run.pk
    assert albums.centroid_cache.get(new_run, space_cache.get(new_run)) is not first


def test_no_run_no_albums(db):
    assert albums.nearest_albums({"style": style_vector(styled(1, "noir"))}) == []
    assert albums.nearest_albums_for_image(styled(1, "noir")) == []
    assert albums.album_of_photo(1) is None
