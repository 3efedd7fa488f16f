"""The media storage as the photo library sees it, whatever the backend (local disk, S3).

Every file goes through Django's storage API (`default_storage`, `FieldFile`); nothing here or
elsewhere assumes a local path. This module adds what every caller needs around that API:

- `is_unavailable(exc)`: the storage could not be reached (connection refused, timeout, S3 5xx or
  throttling): a passing fault worth another try, not a bad photo;
- `describe(exc)`: a short, readable reason for messages and the admin;
- `delete_files(...)`: best-effort deletion that never raises. A file that cannot be deleted (the
  store is down) is logged and recorded as an `OrphanedFile`, which the admin lists and deletes
  again later: database rows are never kept or rolled back because of a file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.files.storage import Storage
from django.db import transaction

logger = logging.getLogger(__name__)

# S3 error codes that mean "try again later" rather than "this request is wrong".
_RETRYABLE_S3_CODES = frozenset(
    {
        "InternalError",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
    }
)


def _botocore_exceptions():
    """botocore's exception module, or None (it is only imported when an error is examined)."""
    try:
        from botocore import exceptions
    except ImportError:  # pragma: no cover - botocore is a declared dependency
        return None
    return exceptions


def _chain(exc: BaseException) -> Iterable[BaseException]:
    """`exc` and the exceptions it was raised from (wrappers such as boto3's upload errors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _client_error_details(exc: BaseException) -> tuple[str, str, int] | None:
    """(code, message, HTTP status) of a botocore ClientError, else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict) or "Error" not in response:
        return None
    error = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
    return str(error.get("Code") or ""), str(error.get("Message") or ""), int(status)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the storage could not be reached or is briefly overloaded."""
    botocore = _botocore_exceptions()
    for error in _chain(exc):
        if isinstance(error, ConnectionError | TimeoutError):
            return True
        if botocore is not None and isinstance(
            error, botocore.ConnectionError | botocore.HTTPClientError
        ):
            return True
        details = _client_error_details(error)
        if details is not None:
            code, _, status = details
            return status >= 500 or code in _RETRYABLE_S3_CODES
    return False


def describe(exc: BaseException) -> str:
    """A short reason for people: 'NoSuchBucket: The specified bucket does not exist'."""
    details = _client_error_details(exc)
    if details is not None:
        code, message, status = details
        return f"{code or status}: {message}" if message else (code or f"HTTP {status}")
    text = str(exc).strip()
    botocore = _botocore_exceptions()
    self_explaining = (OSError,) + ((botocore.BotoCoreError,) if botocore else ())
    if text and isinstance(exc, self_explaining):
        return text  # 'Could not connect to the endpoint URL: "http://…"'
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_message(exc: BaseException, doing: str) -> str:
    """'Could not store the photo: the media storage is not reachable (…).'"""
    what = "is not reachable" if is_unavailable(exc) else "refused the request"
    return f"{doing}: the media storage {what} ({describe(exc)})."


def delete_files(storage: Storage, names: Iterable[str], *, reason: str) -> list[str]:
    """Delete files, never raising; returns the names left behind (recorded as orphaned)."""
    left: list[str] = []
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception as exc:
            left.append(name)
            logger.error(
                "Could not delete %s from the media storage (%s); it is left orphaned (%s)",
                name,
                describe(exc),
                reason,
            )
            _record_orphan(name, reason, exc)
    return left


def delete_files_on_commit(storage: Storage, names: Iterable[str], *, reason: str) -> None:
    """`delete_files` once the current transaction commits (rows first, then their files)."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: delete_files(storage, names, reason=reason))


def _record_orphan(name: str, reason: str, exc: BaseException) -> None:
    from .models import OrphanedFile

    try:
        OrphanedFile.objects.update_or_create(
            name=name[:1024], defaults={"reason": reason[:255], "error": describe(exc)[:2000]}
        )
    except Exception:  # the database is down too: the log line above is all we can do
        logger.exception("Could not record the orphaned file %s", name)


def purge_orphans(orphans: Iterable) -> tuple[int, int]:
    """Delete recorded orphaned files from the storage again: (deleted, still failing)."""
    from django.core.files.storage import default_storage

    deleted = failing = 0
    for orphan in orphans:
        try:
            default_storage.delete(orphan.name)
        except Exception as exc:
            failing += 1
            type(orphan).objects.filter(pk=orphan.pk).update(error=describe(exc)[:2000])
        else:
            deleted += 1
            orphan.delete()
    return deleted, failing
