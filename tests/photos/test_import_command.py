"""``manage.py import_photos DIR``: discovery, summary, resuming, exit status."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from photos.management.commands.import_photos import find_image_files
from photos.models import Photo
from tests.helpers.images import image_bytes

pytestmark = pytest.mark.django_db

REAL_PHOTOS = Path("/work/shared/photos/elementary")


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run the command (processing after each commit, as outside a test); returns stdout."""

    def _run(*args):
        stdout, stderr = io.StringIO(), io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("import_photos", *map(str, args), stdout=stdout, stderr=stderr)
        return stdout.getvalue()

    return _run


@pytest.fixture
def photo_dir(tmp_path):
    """Three photos, a fake .jpg, a non-image, a hidden photo and a photo in a sub-folder."""
    root = tmp_path / "shoot"
    (root / "day2").mkdir(parents=True)
    (root / "a.jpg").write_bytes(image_bytes(seed=1))
    (root / "B.JPEG").write_bytes(image_bytes(seed=2))
    (root / "c.png").write_bytes(image_bytes("PNG", seed=3))
    (root / "fake.jpg").write_text("I am a text file with a .jpg name.")
    (root / "notes.txt").write_text("not an image and not even tried")
    (root / ".hidden.jpg").write_bytes(image_bytes(seed=4))
    (root / "day2" / "d.webp").write_bytes(image_bytes("WEBP", seed=5))
    return root


def test_finds_images_by_extension_sorted_skipping_hidden(photo_dir):
    (photo_dir / ".cache").mkdir()
    (photo_dir / ".cache" / "e.jpg").write_bytes(b"x")
    names = [p.relative_to(photo_dir).as_posix() for p in find_image_files(photo_dir)]
    assert names == ["B.JPEG", "a.jpg", "c.png", "fake.jpg"]
    names = [p.relative_to(photo_dir).as_posix() for p in find_image_files(photo_dir, True)]
    assert names == ["B.JPEG", "a.jpg", "c.png", "day2/d.webp", "fake.jpg"]


def test_imports_the_top_level_only_by_default(run, photo_dir):
    out = run(photo_dir)
    assert sorted(Photo.objects.values_list("original_filename", flat=True)) == [
        "B.JPEG",
        "a.jpg",
        "c.png",
    ]
    assert set(Photo.objects.values_list("status", flat=True)) == {Photo.Status.READY}
    assert Photo.objects.filter(published=True).count() == 3
    assert "Imported 3, already present 0, rejected 1." in out
    assert "fake.jpg: This file is not a JPEG, PNG, WebP or TIFF image." in out
    assert "d.webp" not in out


def test_recursive_includes_sub_folders_and_reports_relative_paths(run, photo_dir):
    (photo_dir / "day2" / "broken.png").write_bytes(image_bytes("PNG", seed=6)[:100])
    out = run(photo_dir, "--recursive")
    assert "Imported 4, already present 0, rejected 2." in out
    assert Photo.objects.filter(original_filename="d.webp").exists()
    assert "day2/broken.png: " in out


def test_unpublished(run, photo_dir):
    run(photo_dir, "--unpublished")
    assert Photo.objects.count() == 3
    assert not Photo.objects.filter(published=True).exists()


def test_rerun_imports_nothing_twice_and_succeeds(run, tmp_path):
    root = tmp_path / "good"
    root.mkdir()
    for i in range(3):
        (root / f"{i}.jpg").write_bytes(image_bytes(seed=40 + i))
    assert "Imported 3, already present 0, rejected 0." in run(root)

    (root / "3.jpg").write_bytes(image_bytes(seed=43))  # added since the first run
    out = run(root)
    assert "Imported 1, already present 3, rejected 0." in out
    out = run(root)  # no CommandError: everything is already there
    assert "Imported 0, already present 4, rejected 0." in out
    assert Photo.objects.count() == 4


def test_rerun_skips_present_files_before_validating_them(run, tmp_path, monkeypatch):
    root = tmp_path / "good"
    root.mkdir()
    (root / "a.jpg").write_bytes(image_bytes(seed=50))
    run(root)

    def must_not_validate(*args, **kwargs):
        raise AssertionError("an already imported file was validated again")

    monkeypatch.setattr("photos.services.inspect_image", must_not_validate)
    assert "already present 1" in run(root)


def test_rerun_with_a_known_bad_file_still_succeeds(run, photo_dir):
    run(photo_dir)
    out = run(photo_dir)  # fake.jpg is rejected again, but the photos are all in
    assert "Imported 0, already present 3, rejected 1." in out


def test_rerun_points_at_photos_that_failed_processing(run, tmp_path):
    root = tmp_path / "good"
    root.mkdir()
    (root / "a.jpg").write_bytes(image_bytes(seed=51))
    run(root)
    Photo.objects.update(status=Photo.Status.FAILED, error="RuntimeError: boom")
    out = run(root)
    assert "Imported 0, already present 1, rejected 0." in out
    assert "1 of the photos already present failed processing earlier" in out


def test_same_content_twice_in_one_folder_is_imported_once(run, tmp_path):
    root = tmp_path / "dupes"
    root.mkdir()
    (root / "a.jpg").write_bytes(image_bytes(seed=60))
    (root / "a copy.jpg").write_bytes(image_bytes(seed=60))
    out = run(root)
    assert "Imported 1, already present 1, rejected 0." in out
    assert Photo.objects.count() == 1


def test_all_rejected_is_an_error(run, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "one.jpg").write_text("text")
    (root / "two.png").write_bytes(b"")
    with pytest.raises(CommandError, match="None of the 2 files could be imported"):
        run(root)
    assert Photo.objects.count() == 0


def test_no_image_files_is_an_error(run, tmp_path):
    (tmp_path / "readme.txt").write_text("no photos here")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.jpg").write_bytes(image_bytes())
    with pytest.raises(CommandError, match="No image files.*--recursive"):
        run(tmp_path)


def test_missing_directory_is_an_error(run, tmp_path):
    with pytest.raises(CommandError, match="no such directory"):
        run(tmp_path / "nope")


def test_a_file_instead_of_a_directory_is_an_error(run, tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(image_bytes())
    with pytest.raises(CommandError, match="not a directory"):
        run(path)


@pytest.mark.skipif(not REAL_PHOTOS.is_dir(), reason="real sample photos not available")
def test_imports_real_photos(run, tmp_path):
    root = tmp_path / "real"
    root.mkdir()
    sources = sorted(REAL_PHOTOS.glob("*.jpg"))[:5]
    assert len(sources) == 5
    for source in sources:
        shutil.copy(source, root / source.name)
    out = run(root)
    assert "Imported 5, already present 0, rejected 0." in out
    photos = Photo.objects.all()
    assert sorted(p.original_filename for p in photos) == [s.name for s in sources]
    for photo in photos:
        assert photo.status == Photo.Status.READY, photo.error
        assert photo.width > 0 and photo.height > 0
        assert photo.rendition_url("thumb")


def test_jobs_must_be_positive(run, tmp_path):
    (tmp_path / "a.jpg").write_bytes(image_bytes(seed=60))
    with pytest.raises(CommandError, match="--jobs must be at least 1"):
        run(tmp_path, "--jobs", "0")
