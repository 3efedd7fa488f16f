"""Business logic of the photo library. `ingest_photo` is the only way a photo gets in."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

from . import storage as media
from .imaging import ImageRejected, inspect_image, sha256_of
from .models import Photo
from .queueing import request_processing
from .signals import announce_change, announce_settled

logger = logging.getLogger(__name__)


class IngestError(Exception):
    """A photo was not added; `str(error)` tells the uploader why."""


class PhotoRejected(IngestError):
    pass


class DuplicatePhoto(IngestError):
    def __init__(self, existing: Photo):
        self.existing = existing
        super().__init__(
            f"Already in the library as “{existing.display_title}” (photo #{existing.pk})."
        )


class StorageUnavailable(IngestError):
    """The original could not be written to the media storage (down, misconfigured, full)."""


def title_from_filename(filename: str) -> str:
    stem = os.path.splitext(os.path.basename(filename))[0]
    title = " ".join(stem.replace("_", " ").replace("-", " ").split())[:200]
    return title[:1].upper() + title[1:]  # keep "DSC02493" and "NYC" as written


def find_duplicate(stream: IO[bytes]) -> Photo | None:
    """The photo already stored with the same content, if any (cheap: hashing only)."""
    digest, _ = sha256_of(stream)
    return Photo.objects.filter(sha256=digest).first()


def ingest_photo(
    file: IO[bytes],
    *,
    original_filename: str | None = None,
    title: str | None = None,
    description: str = "",
    published: bool = True,
) -> Photo:
    """Validate, store and register one photo, then have it processed after the commit.

    Raises `PhotoRejected` (not an accepted image, too large, damaged, decompression bomb),
    `DuplicatePhoto` (same content already stored) or `StorageUnavailable` (the media storage
    could not take the file). Whatever fails, nothing is left behind: no row, and no stored file
    (a file stored before the row failed is deleted again, or recorded as orphaned).
    """
    filename = os.path.basename(original_filename or getattr(file, "name", "") or "photo")
    try:
        info = inspect_image(
            file,
            max_bytes=settings.STYLEFINDER_MAX_UPLOAD_BYTES,
            max_pixels=settings.STYLEFINDER_MAX_PIXELS,
        )
    except ImageRejected as exc:
        raise PhotoRejected(f"{filename}: {exc}") from exc

    existing = Photo.objects.filter(sha256=info.sha256).first()
    if existing is not None:
        raise DuplicatePhoto(existing)

    photo = Photo(
        original_filename=filename[:255],
        title=(title if title is not None else title_from_filename(filename)),
        description=description,
        published=published,
        sha256=info.sha256,
        file_size=info.file_size,
        image_format=info.image_format,
        width=info.width,
        height=info.height,
        status=Photo.Status.PENDING,
        **info.exif.as_model_fields(),
    )
    file.seek(0)
    storage = photo.original.storage
    try:
        stored_name = storage.save(f"originals/{uuid.uuid4().hex}{info.extension}", File(file))
    except Exception as exc:  # any backend: S3 client/connection errors, OSError of a disk
        logger.warning("Could not store %s: %s", filename, media.describe(exc), exc_info=True)
        raise StorageUnavailable(media.failure_message(exc, "Could not store the photo")) from exc
    photo.original.name = stored_name
    discard = f"ingest of {filename} failed"
    try:
        with transaction.atomic():
            photo.save()
            request_processing(photo.pk)
    except IntegrityError as exc:
        # Another upload of the same bytes won the race: keep theirs, drop our copy.
        media.delete_files(storage, [stored_name], reason=discard)
        existing = Photo.objects.filter(sha256=info.sha256).first()
        if existing is not None:
            raise DuplicatePhoto(existing) from exc
        raise
    except BaseException:
        media.delete_files(storage, [stored_name], reason=discard)
        raise
    logger.info("Ingested photo %s (%s)", photo.pk, filename)
    return photo


def reprocess_photos(photos: Iterable[Photo]) -> int:
    """Queue photos for processing again (admin action); returns how many were queued."""
    count = 0
    for photo in photos:
        Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING, error="")
        request_processing(photo.pk)
        count += 1
    announce_settled()
    return count


def set_published(photos: Iterable[Photo], published: bool) -> int:
    ids = [photo.pk for photo in photos]
    count = Photo.objects.filter(pk__in=ids).update(published=published)
    announce_change(ids)
    announce_settled()
    return count


@dataclass
class ImportReport:
    """Outcome of ingesting many files: used by the admin upload and the import command."""

    imported: list[Photo]
    duplicates: list[tuple[str, Photo]]
    rejected: list[tuple[str, str]]
    # Set when the media storage failed: the rest of the batch is not attempted (each file would
    # wait for the same timeouts), but reported, so it can be uploaded again.
    storage_error: str | None = None

    @classmethod
    def empty(cls) -> ImportReport:
        return cls(imported=[], duplicates=[], rejected=[])

    def add(self, name: str, file: IO[bytes], **meta) -> None:
        if self.storage_error is not None:
            self.rejected.append(
                (name, "Not stored: the media storage failed on an earlier file (see above).")
            )
            return
        try:
            self.imported.append(ingest_photo(file, original_filename=name, **meta))
        except DuplicatePhoto as exc:
            self.duplicates.append((name, exc.existing))
        except PhotoRejected as exc:
            self.rejected.append((name, str(exc).removeprefix(f"{os.path.basename(name)}: ")))
        except StorageUnavailable as exc:
            self.storage_error = str(exc)
            self.rejected.append((name, str(exc)))
        except IngestError as exc:
            self.rejected.append((name, str(exc)))
        except Exception as exc:  # database trouble: report it, keep the batch going
            logger.exception("Could not ingest %s", name)
            self.rejected.append((name, f"Could not be stored ({type(exc).__name__}: {exc})."))

    def merge(self, other: ImportReport) -> None:
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.storage_error = self.storage_error or other.storage_error
