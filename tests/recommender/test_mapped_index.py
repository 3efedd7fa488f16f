"""The index file opened memory-mapped, and photos appended to it without copying it (issue
#15, item 3)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from recommender import index_file, mapped_npz, query_index
from recommender.space import CopyDetector, StyleSpace


def _mapped(array: np.ndarray) -> bool:
    """Whether `array` reads a memory-mapped file (itself, or a view of one)."""
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base if isinstance(array.base, np.ndarray) else None
    return False


def _same_hits(found, expected) -> None:
    """The same photos in the same order, with the same scores up to float rounding (a mapped
    array may not be aligned as BLAS likes, so the last bit can differ)."""
    assert [[pid for pid, _ in row] for row in found] == [
        [pid for pid, _ in row] for row in expected
    ]
    np.testing.assert_allclose(
        [[score for _, score in row] for row in found],
        [[score for _, score in row] for row in expected],
        atol=1e-6,
    )


@pytest.fixture
def edited():
    """40 photos in two looks, the content block telling each photo's other edit."""
    rng = np.random.default_rng(7)
    scenes = np.tile(np.arange(20), 2)
    looks = np.repeat(np.arange(2), 20)
    style = rng.normal(0, 3, (2, 10))[looks] + rng.normal(0, 1, (20, 10))[scenes]
    content = rng.normal(0, 1, (20, 24))[scenes] + rng.normal(0, 0.02, (40, 24))
    features = {"style": style, "content": content}
    copies = CopyDetector.fit("content", content, 0.9)
    space = StyleSpace.fit(np.arange(40), features, {"style": 1.0, "content": 2.0}, copies=copies)
    return space, features


def test_an_opened_index_maps_its_rows_and_answers_as_the_read_one(edited, tmp_path):
    space, _ = edited
    path = tmp_path / "run.npz"
    path.write_bytes(space.to_bytes())
    opened = StyleSpace.open(path, map_from_bytes=0)
    read = StyleSpace.from_bytes(path.read_bytes())
    assert _mapped(opened.matrix) and _mapped(opened.copies.rows)
    assert not _mapped(read.matrix)
    assert not opened.matrix.flags.writeable  # read-only: no process can change the file
    np.testing.assert_array_equal(opened.all_neighbours(10)[0], read.all_neighbours(10)[0])
    query = read.matrix[:3]
    _same_hits(
        opened.search(query, 5, query_copies=read.copies.rows[:3]),
        read.search(query, 5, query_copies=read.copies.rows[:3]),
    )
    # Small arrays are read: by default only what a real gallery makes large is mapped.
    assert not _mapped(StyleSpace.open(path).matrix)


def test_added_photos_leave_the_mapped_rows_shared(edited, tmp_path):
    space, features = edited
    path = tmp_path / "run.npz"
    path.write_bytes(
        StyleSpace.fit(
            np.arange(30),
            {k: v[:30] for k, v in features.items()},
            {"style": 1.0, "content": 2.0},
            copies=CopyDetector.fit("content", features["content"][:30], 0.9),
        ).to_bytes()
    )
    opened = StyleSpace.open(path, map_from_bytes=0)
    extra = {k: v[30:] for k, v in features.items()}
    grown = opened.extended(np.arange(30, 40), opened.embed(extra), opened.embed_copies(extra))
    assert grown.matrix is opened.matrix and _mapped(grown.matrix)
    assert _mapped(grown.copies.rows) and grown.copies.tail.shape == (
        10,
        grown.copies.rows.shape[1],
    )
    # It answers as one array holding the same rows would.
    joined = StyleSpace(
        grown.photo_ids,
        grown.all_rows(),
        grown.blocks,
        CopyDetector(
            "content",
            grown.copies.centre,
            grown.copies.components,
            grown.copies.all_rows(),
            grown.copies.threshold,
        ),
    )
    queries = grown.rows_at(np.array([0, 35, 39]))
    copies = grown.copies.rows_at(np.array([0, 35, 39]))
    _same_hits(
        grown.search(queries, 12, query_copies=copies),
        joined.search(queries, 12, query_copies=copies),
    )
    np.testing.assert_array_equal(grown.all_neighbours(8)[0], joined.all_neighbours(8)[0])
    assert grown.row(35) == 35 and grown.row(99) is None
    again = StyleSpace.from_bytes(grown.to_bytes())  # the next index file holds them all
    np.testing.assert_array_equal(again.matrix, joined.matrix)


def test_compressed_members_are_read_and_objects_refused(tmp_path):
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, rows=np.ones((300, 300), np.float32))
    rows = mapped_npz.load(path, map_from_bytes=0)["rows"]
    assert not _mapped(rows) and rows.sum() == 90_000
    with zipfile.ZipFile(tmp_path / "objects.npz", "w") as archive, archive.open("x.npy", "w") as f:
        np.lib.format.write_array(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects"):
        mapped_npz.load(tmp_path / "objects.npz", map_from_bytes=0)


class _RemoteStorage(Storage):
    """Files with no local path (`Storage.path` raises), as on S3."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def _save(self, name, content):
        self.files[name] = content.read()
        return name

    def _open(self, name, mode="rb"):
        if name not in self.files:
            raise FileNotFoundError(name)
        return ContentFile(self.files[name], name)

    def exists(self, name):
        return name in self.files

    def delete(self, name):
        self.files.pop(name, None)


class _Run:
    """What `index_file` reads of a run: its id and its file."""

    def __init__(self, pk, storage, name):
        from django.db.models.fields.files import FieldFile

        from recommender.models import ClusterRun

        self.pk = pk
        self.space_file = FieldFile(None, ClusterRun._meta.get_field("space_file"), name)
        self.space_file.storage = storage
        self.query_index_file = None


def test_a_remote_index_is_copied_once_per_machine_and_mapped(edited, tmp_path, settings):
    settings.STYLEFINDER_INDEX_CACHE_DIR = str(tmp_path / "mapped")
    space, _ = edited
    remote = _RemoteStorage()
    first = _Run(1, remote, remote.save("index/run-1.npz", ContentFile(space.to_bytes())))
    path = index_file.local_path(first)
    assert path.parent == tmp_path / "mapped" and path.read_bytes() == space.to_bytes()
    remote.delete(first.space_file.name)
    assert index_file.local_path(first) == path  # the copy is reused, not fetched again
    np.testing.assert_array_equal(index_file.open_index(first).matrix, space.matrix)

    second = _Run(2, remote, remote.save("index/run-2.npz", ContentFile(space.to_bytes())))
    newer = index_file.local_path(second)
    assert sorted(p.name for p in (tmp_path / "mapped").iterdir()) == [newer.name]

    gone = _Run(3, remote, "index/missing.npz")
    with pytest.raises(FileNotFoundError):
        index_file.local_path(gone)
    assert sorted(p.name for p in (tmp_path / "mapped").iterdir()) == [newer.name]  # no partial


def test_a_view_of_a_mapped_space_holds_one_float_a_photo(edited, tmp_path):
    space, features = edited
    path = tmp_path / "run.npz"
    path.write_bytes(space.to_bytes())
    opened = StyleSpace.open(path, map_from_bytes=0)
    extra = {k: v[:2] + 0.01 for k, v in features.items()}
    grown = opened.extended(np.array([100, 101]), opened.embed(extra), opened.embed_copies(extra))
    view = grown.view({"style": 1.0})
    rows = grown.all_rows()[:, grown.block_slices()["style"]]
    expected = StyleSpace(
        grown.photo_ids, rows / np.linalg.norm(rows, axis=1, keepdims=True), view.blocks
    )
    queries = view.embed(extra)
    _same_hits(view.search(queries, 6), expected.search(queries, 6))
    np.testing.assert_allclose(view.rows_at(np.array([3, 41])), expected.matrix[[3, 41]], atol=1e-6)
    assert view.photo_ids is grown.photo_ids
    held = [
        v
        for v in vars(view).values()
        if isinstance(v, np.ndarray) and v.size >= len(grown) and v is not grown.photo_ids
    ]
    assert [a.shape for a in held] == [(len(grown),)]  # the norms, nothing else
    with pytest.raises(TypeError):
        view.extended(np.array([7]), queries[:1], None)


@pytest.fixture
def large(tmp_path):
    """3,000 photos in 30 looks with a copy detector: the space, its features, and the space
    again with a query index read from its file (a large gallery in miniature)."""
    rng = np.random.default_rng(11)
    looks = rng.integers(30, size=3000)
    style = rng.normal(0, 2, (30, 16))[looks] + rng.normal(0, 1, (3000, 16))
    content = rng.normal(0, 1, (3000, 24))
    content[1:40] = content[0] + rng.normal(0, 0.02, (39, 24))  # 40 edits of one frame,
    style[1:40] = style[0] + rng.normal(0, 0.3, (39, 16))  # alike enough to crowd its pool
    features = {"style": style, "content": content}
    copies = CopyDetector.fit("content", content, 0.9)
    space = StyleSpace.fit(np.arange(3000), features, {"style": 1.0, "content": 0.3}, copies=copies)
    path = tmp_path / "query.faiss"
    query_index.write(query_index.build(space.matrix), path)
    pooled = StyleSpace(
        space.photo_ids,
        space.matrix,
        space.blocks,
        space.copies,
        query_index=query_index.read(path),
    )
    return space, features, pooled


def test_queries_in_a_large_gallery_search_a_mapped_inverted_file(large):
    space, features, pooled = large
    rows = np.random.default_rng(1).choice(3000, 200, replace=False)
    exclude = [{int(r)} for r in rows]
    copies = space.copies.rows[rows]
    exact = space.search(space.matrix[rows], 10, exclude=exclude, query_copies=copies)
    found = pooled.search(space.matrix[rows], 10, exclude=exclude, query_copies=copies)
    overlap = np.mean(
        [len({p for p, _ in a} & {p for p, _ in b}) / 10 for a, b in zip(exact, found, strict=True)]
    )
    assert overlap >= 0.9
    for row, hits in zip(rows, found, strict=True):  # cosines of the half-precision rows
        ids = [pid for pid, _ in hits]
        np.testing.assert_allclose(
            [score for _, score in hits], space.matrix[ids] @ space.matrix[row], atol=1e-3
        )
    # The frame with 39 other edits: they crowd its pool, so every photo is searched.
    crowded = pooled.search(space.matrix[:1], 10, exclude=[{0}], query_copies=space.copies.rows[:1])
    _same_hits(
        crowded,
        space.search(space.matrix[:1], 10, exclude=[{0}], query_copies=space.copies.rows[:1]),
    )
    assert all(pid >= 40 for pid, _ in crowded[0])


def test_photos_added_to_a_large_gallery_are_found_beside_the_inverted_file(large):
    space, features, pooled = large
    extra = {name: rows[5:6] + 1e-3 for name, rows in features.items()}
    grown = pooled.extended(np.array([5000]), pooled.embed(extra), pooled.embed_copies(extra))
    assert grown.query_index is pooled.query_index
    hits = grown.search(grown.embed(extra), 5, exclude=[{5}])[0]
    assert hits[0][0] == 5000  # the added photo (photo 5 barely changed) is the nearest
    assert grown.view({"style": 1.0}).query_index is None  # modes compare every photo


@pytest.mark.django_db
def test_a_large_gallerys_run_keeps_a_query_index_the_web_maps(ingest, settle, monkeypatch):
    from recommender import services
    from recommender.models import ClusterRun
    from recommender.selectors import similar_to_image, space_cache
    from tests.helpers.galleries import two_looks
    from tests.helpers.images import styled

    monkeypatch.setattr(query_index, "QUERY_INDEX_FROM", 10)  # 12 photos count as large
    monkeypatch.setattr(query_index, "APPROXIMATE_FROM", 10)  # and the build searched the index
    gallery = two_looks(ingest, settle)
    run = ClusterRun.objects.get(is_active=True)
    assert run.query_index_file.name.endswith(".faiss")
    space_cache.clear()
    assert space_cache.get(run).query_index is not None
    found = similar_to_image(styled(99, "noir"), k=5)
    assert [r.photo for r in found if r.photo in gallery["noir"]] == [r.photo for r in found]
    first = run.query_index_file.path
    for _ in range(3):  # runs beyond the three kept are pruned with their files
        services.recluster()
    assert not Path(first).exists()


def test_saved_arrays_start_aligned_and_numpys_own_files_are_read(tmp_path):
    arrays = {f"a{i}": np.arange(i + 3000, dtype=np.float32).reshape(-1, 1) for i in range(5)}
    arrays["names"] = np.array(["look", "cnn.content"])
    with open(tmp_path / "aligned.npz", "wb") as target:
        mapped_npz.save(target, arrays)
    loaded = mapped_npz.load(tmp_path / "aligned.npz", map_from_bytes=0)
    with np.load(tmp_path / "aligned.npz") as plain:  # still an ordinary .npz
        for name, array in arrays.items():
            np.testing.assert_array_equal(plain[name], array)
            np.testing.assert_array_equal(loaded[name], array)
            assert _mapped(loaded[name]) and loaded[name].ctypes.data % mapped_npz.ALIGN == 0
    np.savez(tmp_path / "numpy.npz", **arrays)  # members start wherever the headers end
    loaded = mapped_npz.load(tmp_path / "numpy.npz", map_from_bytes=0)
    unaligned = [name for name in arrays if not _mapped(loaded[name])]
    assert unaligned, "numpy.savez happened to align every member: the test shows nothing"
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].flags.aligned


def _resident_kb(array: np.ndarray) -> int:
    """Resident kilobytes of the mapping that holds `array` (from /proc/self/smaps)."""
    address = array.__array_interface__["data"][0]
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if not fields[0].endswith(":"):
                low, high = (int(x, 16) for x in fields[0].split("-"))
                inside = low <= address < high
            elif inside and fields[0] == "Rss:":
                return int(fields[1])
    raise AssertionError("array is not mapped")


def test_rows_read_at_random_cost_a_page_each_of_a_fresh_file(tmp_path):
    """A file just written sits in the file cache in large folios and a fault maps a whole
    folio (2 MB on this machine's kernel; 64 KB around the fault on others): opened for random
    access, 40 rows scattered over 64 MB cost the reader about 40 pages."""
    path = tmp_path / "rows.npz"
    with path.open("wb") as out:
        mapped_npz.save(out, {"rows": np.ones((250_000, 64), np.float32)})
    rows = mapped_npz.load(path, random_access=True)["rows"]
    assert _resident_kb(rows) < 64
    picked = np.linspace(0, len(rows) - 1, 40).astype(int)
    assert float(rows[picked].sum()) == 40 * 64
    assert _resident_kb(rows) <= 40 * 4 * 3  # a page a row, with room for a neighbour or two
