"""Reading photos out of uploaded zip archives: junk, limits, damage and zip bombs."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zipfile

import pytest

from photos.archives import import_zip, is_junk, iter_zip_members, looks_like_zip
from photos.models import Photo
from tests.helpers.images import image_bytes

MB = 1024 * 1024


def make_zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in members.items():
            if name.endswith("/"):
                zf.writestr(zipfile.ZipInfo(name), b"")
            else:
                zf.writestr(name, data)
    buffer.seek(0)
    buffer.name = "upload.zip"
    return buffer


def zeros_zip(path, size: int, name: str = "bomb.jpg") -> None:
    """A zip with one highly compressible member of `size` zero bytes, written in chunks."""
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open(name, "w") as member,
    ):
        chunk = bytes(MB)
        for _ in range(size // MB):
            member.write(chunk)


def patch_first_member(data: bytearray, *, file_size: int | None = None, flags: int = 0) -> None:
    """Rewrite the first member's declared size and/or add flag bits, in both headers."""
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        local = zf.infolist()[0].header_offset
        central = zf.start_dir
    assert data[local : local + 4] == b"PK\x03\x04"
    assert data[central : central + 4] == b"PK\x01\x02"
    if file_size is not None:
        struct.pack_into("<I", data, local + 22, file_size)
        struct.pack_into("<I", data, central + 24, file_size)
    if flags:
        for offset in (local + 6, central + 8):
            (current,) = struct.unpack_from("<H", data, offset)
            struct.pack_into("<H", data, offset, current | flags)


def collect(archive, name="upload.zip"):
    """(name, bytes or None, error or None) for every member; files are read while open."""
    return [
        (member.name, member.file.read() if member.file else None, member.error)
        for member in iter_zip_members(archive, name)
    ]


def test_good_zip_yields_every_photo_with_its_bytes():
    photos = {"a.jpg": image_bytes(seed=1), "b.png": image_bytes("PNG", seed=2)}
    result = collect(make_zip(photos))
    assert result == [
        ("upload.zip/a.jpg", photos["a.jpg"], None),
        ("upload.zip/b.png", photos["b.png"], None),
    ]


def test_yielded_files_are_closed_when_the_caller_moves_on():
    members = iter_zip_members(make_zip({"a.jpg": b"1", "b.jpg": b"2"}), "upload.zip")
    first = next(members)
    assert not first.file.closed
    next(members)
    assert first.file.closed
    members.close()


def test_nested_folders_keep_their_path_in_the_name():
    data = image_bytes(seed=3)
    result = collect(make_zip({"trip/": b"", "trip/day 1/": b"", "trip/day 1/sea.jpg": data}))
    assert result == [("upload.zip/trip/day 1/sea.jpg", data, None)]


def test_junk_is_skipped_silently():
    data = image_bytes(seed=4)
    archive = make_zip(
        {
            "__MACOSX/": b"",
            "__MACOSX/._sea.jpg": b"\x00\x05\x16\x07 resource fork",
            "__MACOSX/trip/._sea.jpg": b"junk",
            ".DS_Store": b"junk",
            "trip/.DS_Store": b"junk",
            "trip/._sea.jpg": b"junk",
            ".hidden/x.jpg": image_bytes(seed=5),
            "trip/Thumbs.db": b"junk",
            "trip/sea.jpg": data,
        }
    )
    assert collect(archive) == [("upload.zip/trip/sea.jpg", data, None)]


@pytest.mark.parametrize(
    "name, junk",
    [
        ("photo.jpg", False),
        ("a/b/photo.JPG", False),
        ("a/", True),
        ("__MACOSX/a/._photo.jpg", True),
        (".DS_Store", True),
        ("a/.git/config", True),
        ("desktop.ini", True),
        ("win\\path\\.hidden.jpg", True),
    ],
)
def test_is_junk(name, junk):
    assert is_junk(name) is junk


def test_looks_like_zip_by_name_or_content():
    assert looks_like_zip(io.BytesIO(b"anything"), "Photos.ZIP")
    assert looks_like_zip(make_zip({"a.jpg": b"1"}), "upload")
    assert not looks_like_zip(io.BytesIO(image_bytes()), "photo.jpg")


def test_oversize_member_is_rejected_with_a_reason_and_the_rest_go_on(settings):
    small = image_bytes(size=(16, 16), seed=6)
    settings.STYLEFINDER_MAX_UPLOAD_BYTES = len(small) + 100
    big = image_bytes(size=(400, 300), seed=7, quality=100)
    assert len(big) > settings.STYLEFINDER_MAX_UPLOAD_BYTES
    result = collect(make_zip({"big.jpg": big, "small.jpg": small}))
    assert result[0][0] == "upload.zip/big.jpg"
    assert result[0][1] is None
    assert "limit" in result[0][2]
    assert result[1] == ("upload.zip/small.jpg", small, None)


def test_encrypted_member_is_rejected_with_a_reason():
    data = bytearray(make_zip({"secret.jpg": image_bytes(seed=8)}).getvalue())
    patch_first_member(data, flags=0x1)
    [(name, content, error)] = collect(io.BytesIO(bytes(data)))
    assert name == "upload.zip/secret.jpg"
    assert content is None
    assert "encrypted" in error


def test_stops_at_the_member_limit(settings):
    settings.STYLEFINDER_MAX_ZIP_MEMBERS = 3
    archive = make_zip({f"{i}.jpg": image_bytes(seed=i) for i in range(5)})
    result = collect(archive)
    assert [name for name, content, _ in result if content] == [
        "upload.zip/0.jpg",
        "upload.zip/1.jpg",
        "upload.zip/2.jpg",
    ]
    assert result[-1][0] == "upload.zip"
    assert "more than 3 files" in result[-1][2]
    assert len(result) == 4


def test_junk_does_not_count_towards_the_member_limit(settings):
    settings.STYLEFINDER_MAX_ZIP_MEMBERS = 1
    data = image_bytes(seed=9)
    archive = make_zip({"__MACOSX/._a.jpg": b"x", ".DS_Store": b"x", "a.jpg": data})
    assert collect(archive) == [("upload.zip/a.jpg", data, None)]


def test_stops_at_the_total_uncompressed_size(settings):
    members = {f"{i}.jpg": image_bytes(size=(200, 150), seed=i, quality=100) for i in range(4)}
    sizes = [len(data) for data in members.values()]
    settings.STYLEFINDER_MAX_ZIP_BYTES = sizes[0] + sizes[1] + sizes[2] // 2
    result = collect(make_zip(members))
    assert [name for name, content, _ in result if content] == [
        "upload.zip/0.jpg",
        "upload.zip/1.jpg",
    ]
    assert result[-1][0] == "upload.zip"
    assert "unpacks to more than" in result[-1][2]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"this is not a zip at all",
        image_bytes(seed=10),
        # A real archive cut in half: the central directory at the end is gone.
        make_zip({"a.jpg": image_bytes(seed=11)}).getvalue()[:300],
    ],
    ids=["empty", "text", "jpeg", "truncated"],
)
def test_corrupt_or_not_a_zip_is_one_clear_rejection(content):
    [(name, member_content, error)] = collect(io.BytesIO(content), "broken.zip")
    assert (name, member_content) == ("broken.zip", None)
    assert "not a readable zip archive" in error


def test_damaged_member_is_rejected_and_the_rest_go_on():
    good = image_bytes(seed=12)
    data = bytearray(make_zip({"bad.jpg": image_bytes(seed=13), "good.jpg": good}).getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.infolist()[0]
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 20 : start + 60] = bytes(40)  # scribble over the compressed stream
    result = collect(io.BytesIO(bytes(data)))
    assert result[0][0] == "upload.zip/bad.jpg"
    assert result[0][1] is None
    assert "damaged" in result[0][2]
    assert result[1] == ("upload.zip/good.jpg", good, None)


def test_zip_bomb_member_is_refused_without_inflating_it(tmp_path):
    path = tmp_path / "bomb.zip"
    zeros_zip(path, 256 * MB)
    assert path.stat().st_size < 2 * MB
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with path.open("rb") as archive:
            result = collect(archive, "bomb.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 4 * MB
    [(name, content, error)] = result
    assert (name, content) == ("bomb.zip/bomb.jpg", None)
    assert "limit" in error


def test_zip_bomb_with_a_lying_header_is_read_in_bounded_chunks(tmp_path, settings):
    """The header claims a small member; it inflates to far more. Reading stops early."""
    settings.STYLEFINDER_MAX_UPLOAD_BYTES = 4 * MB
    path = tmp_path / "liar.zip"
    zeros_zip(path, 128 * MB)
    data = bytearray(path.read_bytes())
    patch_first_member(data, file_size=2 * MB)
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with path.open("rb") as archive:
            result = collect(archive, "liar.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # At most one member's worth (the limit) plus a chunk was ever held in memory.
    assert peak < settings.STYLEFINDER_MAX_UPLOAD_BYTES + 4 * MB
    [(name, content, error)] = result
    assert (name, content) == ("liar.zip/bomb.jpg", None)
    assert error


@pytest.mark.django_db
def test_import_zip_ingests_photos_and_rejects_the_rest(django_capture_on_commit_callbacks):
    archive = make_zip(
        {
            "__MACOSX/._a.jpg": b"junk",
            "a.jpg": image_bytes(seed=20),
            "trip/b.png": image_bytes("PNG", seed=21),
            "trip/notes.txt": b"Shot on a rainy day.",
            "copy-of-a.jpg": image_bytes(seed=20),
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = import_zip(archive, "/some/where/holiday.zip", published=False)

    assert sorted(photo.original_filename for photo in report.imported) == ["a.jpg", "b.png"]
    assert [name for name, _ in report.duplicates] == ["holiday.zip/copy-of-a.jpg"]
    [(name, reason)] = report.rejected
    assert name == "holiday.zip/trip/notes.txt"
    assert "not a JPEG, PNG, WebP or TIFF image" in reason
    photos = Photo.objects.all()
    assert {photo.status for photo in photos} == {Photo.Status.READY}
    assert not any(photo.published for photo in photos)


@pytest.mark.django_db
def test_import_zip_of_a_corrupt_file_reports_it():
    report = import_zip(io.BytesIO(b"garbage"), "photos.zip")
    assert report.imported == [] and report.duplicates == []
    [(name, reason)] = report.rejected
    assert name == "photos.zip"
    assert "not a readable zip archive" in reason
