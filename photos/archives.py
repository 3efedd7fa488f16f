"""Reading the photos inside an uploaded zip archive, safely.

A zip comes from a photographer's computer, so it carries junk (``__MACOSX/``, ``.DS_Store``,
``Thumbs.db``) and may be hostile (a "zip bomb": a small archive that inflates to gigabytes).
`iter_zip_members` therefore

- skips directories, macOS resource forks and hidden files without a word;
- refuses, as a rejected member with a reason (never an exception that ends the batch), members
  that are encrypted, larger than ``STYLEFINDER_MAX_UPLOAD_BYTES`` or unreadable;
- stops after ``STYLEFINDER_MAX_ZIP_MEMBERS`` files and ``STYLEFINDER_MAX_ZIP_BYTES`` of
  uncompressed data, counting the bytes actually inflated, not the sizes the headers declare;
- streams each member into a `SpooledTemporaryFile` (memory for small ones, disk beyond), in
  bounded chunks, so a member is never held in memory whole.

Whether a member is an image is not decided here: `ingest_photo` checks the content and rejects
the rest with its own reason.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from django.conf import settings

from .services import ImportReport

CHUNK_SIZE = 1024 * 1024
# Members up to this size stay in memory; larger ones roll over to a temporary file on disk.
SPOOL_MAX_MEMORY = 8 * 1024 * 1024
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive

_JUNK_DIRS = {"__MACOSX"}
_JUNK_FILES = {"thumbs.db", "desktop.ini"}


class MemberTooLarge(Exception):
    pass


@dataclass
class ArchiveMember:
    """One file of an archive: `file` to ingest, or `error` saying why it was refused."""

    name: str
    file: IO[bytes] | None = None
    error: str | None = None

    @property
    def rejected(self) -> bool:
        return self.error is not None


def looks_like_zip(file: IO[bytes], name: str = "") -> bool:
    """A .zip by name or by its first bytes (no image format starts with ``PK``)."""
    if name.lower().endswith(".zip"):
        return True
    try:
        position = file.tell()
        file.seek(0)
        head = file.read(4)
        file.seek(position)
    except (OSError, ValueError):
        return False
    return head in ZIP_MAGIC


def is_junk(member_name: str) -> bool:
    """Directories, macOS metadata, hidden files and OS thumbnails: skipped silently."""
    parts = [part for part in member_name.replace("\\", "/").split("/") if part]
    if not parts or member_name.endswith(("/", "\\")):
        return True
    if any(part in _JUNK_DIRS or part.startswith(".") for part in parts):
        return True
    return parts[-1].lower() in _JUNK_FILES


def _format_mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _copy_bounded(source: IO[bytes], target: IO[bytes], limit: int) -> int:
    """Copy at most `limit` bytes; raise `MemberTooLarge` as soon as the source has more."""
    copied = 0
    while True:
        chunk = source.read(min(CHUNK_SIZE, limit - copied + 1))
        if not chunk:
            return copied
        copied += len(chunk)
        if copied > limit:
            raise MemberTooLarge
        target.write(chunk)


def iter_zip_members(
    archive: IO[bytes], archive_name: str = "archive.zip"
) -> Iterator[ArchiveMember]:
    """Yield every candidate file of a zip, in archive order, as an `ArchiveMember`.

    Names are ``"<archive_name>/<path inside the archive>"``, so the basename is the member's own
    file name. Each yielded file is open until the caller asks for the next member (or stops),
    then it is closed and its temporary storage released.

    A file that is not a zip, or is damaged beyond reading its directory, yields one rejected
    member named after the archive.
    """
    max_member = settings.STYLEFINDER_MAX_UPLOAD_BYTES
    max_total = settings.STYLEFINDER_MAX_ZIP_BYTES
    max_members = settings.STYLEFINDER_MAX_ZIP_MEMBERS
    try:
        archive.seek(0)
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        yield ArchiveMember(
            archive_name,
            error=f"This is not a readable zip archive (it may be damaged or incomplete): {exc}",
        )
        return

    with zf:
        total = 0
        count = 0
        for info in zf.infolist():
            if info.is_dir() or is_junk(info.filename):
                continue
            name = f"{archive_name}/{info.filename.replace(chr(92), '/').lstrip('/')}"
            if count >= max_members:
                yield ArchiveMember(
                    archive_name,
                    error=(
                        f"The archive holds more than {max_members} files; stopped before "
                        f"{info.filename!r}. Split it into smaller archives."
                    ),
                )
                return
            count += 1

            if info.flag_bits & 0x1:
                yield ArchiveMember(name, error="The file is encrypted (password-protected).")
                continue
            if info.file_size > max_member:
                yield ArchiveMember(
                    name,
                    error=(
                        f"The file is {_format_mb(info.file_size)}; "
                        f"the limit is {max_member / 1e6:.0f} MB."
                    ),
                )
                continue
            remaining = max_total - total
            if info.file_size > remaining:
                yield _total_exceeded(archive_name, max_total, info.filename)
                return

            # Headers can lie about sizes: `_extract` counts what is actually inflated.
            limit = min(max_member, remaining)
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY) as spool:
                copied, error = _extract(zf, info, spool, limit)
                if error is None:
                    total += copied
                    spool.seek(0)
                    # Open while the caller ingests it; closed when the caller moves on.
                    yield ArchiveMember(name, file=spool)
                    continue
            if error == _TOO_LARGE:
                if limit < max_member:
                    yield _total_exceeded(archive_name, max_total, info.filename)
                    return
                error = (
                    f"The file inflates to more than {max_member / 1e6:.0f} MB (the limit); "
                    "it was not unpacked."
                )
            yield ArchiveMember(name, error=error)


_TOO_LARGE = "too large"


def _extract(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: IO[bytes], limit: int
) -> tuple[int, str | None]:
    """Inflate one member into `target`, at most `limit` bytes: (bytes written, error or None)."""
    try:
        with zf.open(info) as source:
            return _copy_bounded(source, target, limit), None
    except MemberTooLarge:
        return 0, _TOO_LARGE
    # NotImplementedError: an unsupported compression method (e.g. Deflate64);
    # RuntimeError: encryption that zipfile only notices when opening.
    except (NotImplementedError, RuntimeError) as exc:
        return 0, f"The file cannot be unpacked: {exc}"
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        return 0, f"The file is damaged inside the archive: {exc}"


def _total_exceeded(archive_name: str, max_total: int, stopped_at: str) -> ArchiveMember:
    return ArchiveMember(
        archive_name,
        error=(
            f"The archive unpacks to more than {max_total / 1e6:.0f} MB (the limit); stopped "
            f"before {stopped_at!r}. Split it into smaller archives."
        ),
    )


def import_zip(
    archive: IO[bytes], archive_name: str, report: ImportReport | None = None, **meta
) -> ImportReport:
    """Ingest every photo of a zip into `report` (a new one if not given) and return it.

    `meta` is passed to `ingest_photo` for every member (e.g. ``published=False``).
    """
    report = report if report is not None else ImportReport.empty()
    archive_name = os.path.basename(archive_name) or "archive.zip"
    for member in iter_zip_members(archive, archive_name):
        if member.error is not None:
            report.rejected.append((member.name, member.error))
        else:
            report.add(member.name, member.file, **meta)
    return report
