"""A media storage that fails (S3 down, a missing bucket, a full disk) never crashes an upload,
never leaves a half-created photo, never loses an original and never blocks a deletion.

`FlakyStorage` is the local file storage with switchable faults (the errors botocore raises);
tests/integration/test_s3_storage.py does the same against a real S3 API server.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import OperationalError
from django.urls import reverse

from photos import pipeline
from photos.models import OrphanedFile, Photo, Rendition
from photos.services import ImportReport, StorageUnavailable, ingest_photo, reprocess_photos
from photos.storage import describe, is_unavailable, purge_orphans
from photos.tasks import MAX_RETRIES, process_photo_task
from recommender.models import ClusterRun
from recommender.selectors import _SpaceCache
from tests.helpers.images import image_file

pytestmark = pytest.mark.django_db

UNREACHABLE = EndpointConnectionError(endpoint_url="http://s3.invalid/bucket/media/x.jpg")


def no_such_bucket() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist"},
            "ResponseMetadata": {"HTTPStatusCode": 404},
        },
        "PutObject",
    )


def slow_down() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
            "ResponseMetadata": {"HTTPStatusCode": 503},
        },
        "GetObject",
    )


class FlakyStorage(FileSystemStorage):
    """Local files, with faults switched on per operation (class-wide: one storage per test)."""

    faults: dict[str, Exception] = {}
    calls: dict[str, int] = {}

    def _fault(self, operation: str) -> None:
        FlakyStorage.calls[operation] = FlakyStorage.calls.get(operation, 0) + 1
        if operation in FlakyStorage.faults:
            raise FlakyStorage.faults[operation]

    def _save(self, name, content):
        self._fault("save")
        return super()._save(name, content)

    def _open(self, name, mode="rb"):
        self._fault("open")
        return super()._open(name, mode)

    def delete(self, name):
        self._fault("delete")
        return super().delete(name)


@pytest.fixture
def storage(settings, media_root):
    """The default storage (and the index files' own) is a FlakyStorage over this test's media
    folder."""
    flaky = {"BACKEND": f"{__name__}.FlakyStorage", "OPTIONS": {"location": str(media_root)}}
    settings.STORAGES = {**settings.STORAGES, "default": flaky, "index": flaky}
    FlakyStorage.faults, FlakyStorage.calls = {}, {}
    yield FlakyStorage
    FlakyStorage.faults, FlakyStorage.calls = {}, {}


def stored_files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --- Classifying errors -----------------------------------------------------------------------


def test_connection_errors_and_s3_overload_count_as_unavailable_not_bad_requests():
    assert is_unavailable(UNREACHABLE)
    assert is_unavailable(slow_down())
    assert is_unavailable(TimeoutError("timed out"))
    wrapped = RuntimeError("upload failed")
    wrapped.__cause__ = UNREACHABLE
    assert is_unavailable(wrapped)

    assert not is_unavailable(no_such_bucket())
    assert not is_unavailable(FileNotFoundError("gone"))
    assert describe(no_such_bucket()) == "NoSuchBucket: The specified bucket does not exist"
    assert "Could not connect to the endpoint URL" in describe(UNREACHABLE)


# --- Ingest -----------------------------------------------------------------------------------


def test_storage_down_at_ingest_raises_a_clear_error_and_leaves_nothing(storage, media_root):
    storage.faults["save"] = UNREACHABLE

    with pytest.raises(StorageUnavailable) as excinfo:
        ingest_photo(image_file("beach.jpg"))

    message = str(excinfo.value)
    assert message.startswith("Could not store the photo: the media storage is not reachable")
    assert "http://s3.invalid" in message
    assert Photo.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_missing_bucket_is_reported_as_refused_not_unreachable(storage):
    storage.faults["save"] = no_such_bucket()

    with pytest.raises(StorageUnavailable) as excinfo:
        ingest_photo(image_file("beach.jpg"))

    assert str(excinfo.value) == (
        "Could not store the photo: the media storage refused the request "
        "(NoSuchBucket: The specified bucket does not exist)."
    )
    assert Photo.objects.count() == 0


def test_a_database_failure_after_storing_removes_the_stored_original(
    storage, media_root, monkeypatch
):
    def broken_save(self, *args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Photo, "save", broken_save)
    with pytest.raises(OperationalError):
        ingest_photo(image_file("beach.jpg"))

    assert storage.calls["save"] == 1
    assert stored_files(media_root) == []  # no orphan left in the storage
    assert not OrphanedFile.objects.exists()


def test_an_original_that_cannot_be_removed_again_is_recorded_as_orphaned(
    storage, media_root, monkeypatch
):
    def broken_save(self, *args, **kwargs):
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(Photo, "save", broken_save)
    storage.faults["delete"] = UNREACHABLE
    with pytest.raises(OperationalError):
        ingest_photo(image_file("beach.jpg"))

    [left] = stored_files(media_root)
    orphan = OrphanedFile.objects.get()
    assert orphan.name == left
    assert "beach.jpg" in orphan.reason
    assert "Could not connect" in orphan.error


def test_a_batch_stops_at_the_first_storage_failure_and_reports_every_file(storage, ingest):
    kept = ingest(image_file("kept.jpg", seed=1))
    storage.faults["save"] = UNREACHABLE
    storage.calls.clear()

    report = ImportReport.empty()
    for i in range(5):
        report.add(f"photo-{i}.jpg", image_file(f"photo-{i}.jpg", seed=10 + i))

    assert storage.calls == {"save": 1}  # one timeout, not one per file
    assert report.imported == []
    assert [name for name, _ in report.rejected] == [f"photo-{i}.jpg" for i in range(5)]
    assert "not reachable" in report.rejected[0][1]
    assert all("earlier file" in reason for _, reason in report.rejected[1:])
    assert report.storage_error.startswith("Could not store the photo")
    assert list(Photo.objects.all()) == [kept]  # the library is intact


def test_admin_upload_with_the_storage_down_shows_the_error_and_keeps_the_library(
    storage, ingest, admin_client, media_root
):
    kept = ingest(image_file("kept.jpg", seed=1))
    files_before = stored_files(media_root)
    storage.faults["save"] = UNREACHABLE

    response = admin_client.post(
        reverse("admin:photos_photo_upload"),
        {"files": [image_file("new.jpg", seed=2), image_file("other.jpg", seed=3)]},
        follow=True,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Could not store the photo: the media storage is not reachable" in html
    assert "upload them again once the storage is back" in html
    assert "Rejected (2)" in html
    assert list(Photo.objects.all()) == [kept]
    assert stored_files(media_root) == files_before


# --- Processing -------------------------------------------------------------------------------


def test_storage_down_while_processing_is_retried_and_never_loses_the_original(
    storage, django_capture_on_commit_callbacks
):
    storage.faults["open"] = UNREACHABLE
    with django_capture_on_commit_callbacks(execute=False):
        photo = ingest_photo(image_file("beach.jpg"))

    # With a queue, a passing storage fault is raised for the task to retry with backoff ...
    with pytest.raises(pipeline.TransientProcessingError):
        pipeline.process_photo(photo.pk, raise_transient=True)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PENDING
    assert photo.error == ""
    assert photo.original.storage.exists(photo.original.name)

    # ... and the last try (or an in-process run, which nothing retries) records why it failed.
    process_photo_task.apply(args=[photo.pk], retries=MAX_RETRIES)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert "the media storage is not reachable" in photo.error
    assert "re-process the photo once the storage is back" in photo.error
    assert not Rendition.objects.filter(photo=photo).exists()
    assert photo.original.storage.exists(photo.original.name)

    del storage.faults["open"]
    with django_capture_on_commit_callbacks(execute=True):
        reprocess_photos([photo])
    photo.refresh_from_db()
    assert photo.status == Photo.Status.READY, photo.error
    assert photo.renditions.count() == 3


def test_the_failure_reason_is_shown_in_the_admin(storage, admin_client, ingest):
    storage.faults["open"] = UNREACHABLE
    photo = ingest(image_file("beach.jpg"))  # eager, without retries: fails at once
    assert photo.status == Photo.Status.FAILED

    change = admin_client.get(reverse("admin:photos_photo_change", args=[photo.pk]))
    assert "the media storage is not reachable" in change.content.decode()
    listing = admin_client.get(reverse("admin:photos_photo_changelist"))
    assert "stylefinder-error" in listing.content.decode()


def test_a_missing_original_fails_with_a_clear_reason(ingest, media_root):
    photo = ingest(image_file("beach.jpg"))
    (media_root / photo.original.name).unlink()

    photo = pipeline.process_photo(photo.pk, raise_transient=True)  # not transient: no retry

    assert photo.status == Photo.Status.FAILED
    assert photo.error == (
        f"The original file {photo.original.name} is missing from the media storage."
    )


def test_renditions_written_before_a_storage_failure_are_removed(storage, ingest, media_root):
    photo = ingest(image_file("beach.jpg", size=(900, 600)))
    renditions_before = {r.file.name for r in photo.renditions.all()}
    real_save = FlakyStorage._save

    def fail_on_third_rendition(self, name, content):
        if name.startswith("renditions/") and storage.calls.get("save", 0) >= 2:
            raise UNREACHABLE
        FlakyStorage.calls["save"] = FlakyStorage.calls.get("save", 0) + 1
        return real_save(self, name, content)

    storage.calls.clear()
    FlakyStorage._save = fail_on_third_rendition
    try:
        result = pipeline.process_photo(photo.pk)
    finally:
        FlakyStorage._save = real_save

    assert result.status == Photo.Status.FAILED
    assert {r.file.name for r in result.renditions.all()} == renditions_before
    assert sorted(stored_files(media_root / "renditions")) == sorted(
        name.removeprefix("renditions/") for name in renditions_before
    )


def test_old_renditions_that_cannot_be_deleted_do_not_fail_a_successful_reprocess(
    storage, ingest, django_capture_on_commit_callbacks
):
    photo = ingest(image_file("beach.jpg"))
    old = {r.file.name for r in photo.renditions.all()}
    storage.faults["delete"] = UNREACHABLE

    with django_capture_on_commit_callbacks(execute=True):
        reprocess_photos([photo])

    photo.refresh_from_db()
    assert photo.status == Photo.Status.READY, photo.error
    assert set(OrphanedFile.objects.values_list("name", flat=True)) == old


# --- Deleting ---------------------------------------------------------------------------------


def test_deleting_a_photo_with_the_storage_down_records_its_files_for_later(
    storage, ingest, media_root, django_capture_on_commit_callbacks, caplog
):
    photo = ingest(image_file("beach.jpg"))
    names = {photo.original.name, *(r.file.name for r in photo.renditions.all())}
    storage.faults["delete"] = UNREACHABLE

    with (
        caplog.at_level(logging.ERROR, logger="photos.storage"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        photo.delete()

    assert not Photo.objects.exists()
    assert not Rendition.objects.exists()
    assert set(OrphanedFile.objects.values_list("name", flat=True)) == names
    assert set(stored_files(media_root)) == names  # still there, nothing half-deleted
    assert "left orphaned" in caplog.text

    del storage.faults["delete"]
    assert purge_orphans(OrphanedFile.objects.all()) == (4, 0)
    assert stored_files(media_root) == []
    assert not OrphanedFile.objects.exists()


@pytest.mark.django_db(transaction=True)  # the files go after a real commit
def test_the_admin_says_when_a_deleted_photo_left_files_behind(storage, admin_client):
    photo = ingest_photo(image_file("beach.jpg"))  # processed at once (eager, after commit)
    assert Photo.objects.get().status == Photo.Status.READY
    storage.faults["delete"] = UNREACHABLE

    response = admin_client.post(
        reverse("admin:photos_photo_delete", args=[photo.pk]), {"post": "yes"}, follow=True
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "The media storage could not delete 4 file(s) of the deleted photos" in html
    assert reverse("admin:photos_orphanedfile_changelist") in html
    assert not Photo.objects.exists()
    assert OrphanedFile.objects.count() == 4


def test_orphaned_files_are_listed_and_deleted_again_from_the_admin(
    storage, admin_client, media_root
):
    name = FlakyStorage(location=str(media_root)).save("originals/left.jpg", ContentFile(b"x"))
    OrphanedFile.objects.create(name=name, reason="photo 1 deleted", error="unreachable")

    listing = admin_client.get(reverse("admin:photos_orphanedfile_changelist"))
    assert "originals/left.jpg" in listing.content.decode()

    storage.faults["delete"] = UNREACHABLE
    action = {"action": "delete_from_storage", "_selected_action": [OrphanedFile.objects.get().pk]}
    response = admin_client.post(
        reverse("admin:photos_orphanedfile_changelist"), action, follow=True
    )
    assert "could still not be deleted" in response.content.decode()
    assert OrphanedFile.objects.count() == 1

    del storage.faults["delete"]
    response = admin_client.post(
        reverse("admin:photos_orphanedfile_changelist"), action, follow=True
    )
    assert "Deleted 1 file(s)." in response.content.decode()
    assert not OrphanedFile.objects.exists()
    assert stored_files(media_root) == []


# --- The recommender's index file -------------------------------------------------------------


class RemoteFlakyStorage(FlakyStorage):
    """As S3: no local path, so a web process copies the index file before mapping it."""

    def path(self, name):
        raise NotImplementedError("This backend doesn't support absolute paths.")


def test_an_unreadable_index_file_means_no_on_the_fly_search_not_an_error(
    storage, settings, media_root, tmp_path, caplog
):
    run = ClusterRun.objects.create(n_photos=2, config={})
    run.space_file.save("run.npz", ContentFile(b"not read"), save=True)
    remote = {"BACKEND": f"{__name__}.RemoteFlakyStorage", "OPTIONS": {"location": str(media_root)}}
    settings.STORAGES = {**settings.STORAGES, "index": remote}
    settings.STYLEFINDER_INDEX_CACHE_DIR = str(tmp_path / "mapped")
    run = ClusterRun.objects.get(pk=run.pk)
    storage.faults["open"] = UNREACHABLE
    cache = _SpaceCache()

    with caplog.at_level(logging.ERROR, logger="recommender.selectors"):
        assert cache.get(run) is None
        assert cache.get(run) is None  # within the retry window: no second attempt
    assert storage.calls["open"] == 1
    assert "Could not read the index" in caplog.text
    assert not any((tmp_path / "mapped").iterdir())  # no partial copy left to map


def test_a_damaged_local_index_file_means_no_on_the_fly_search_not_an_error(storage, caplog):
    run = ClusterRun.objects.create(n_photos=2, config={})
    run.space_file.save("run.npz", ContentFile(b"not an index"), save=True)
    with caplog.at_level(logging.ERROR, logger="recommender.selectors"):
        assert _SpaceCache().get(run) is None
    assert "Could not read the index" in caplog.text
