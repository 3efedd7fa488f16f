"""Where files that must never be public live: the index files of the recommender.

An index file (`ClusterRun.space_file`) holds every photo id and style vector of a run,
unpublished photos included. Media are served to anyone (`/media/` in the embedded default, a web
server or a CDN in production), so index files are kept out of them: `STORAGES["index"]`.

- Local disk: `IndexFileStorage`, a folder beside MEDIA_ROOT, never under it
  (``STYLEFINDER_PRIVATE_ROOT``, default ``<MEDIA_ROOT>-private``), so no media server can reach
  it, and with no URL at all.
- S3: another prefix of the same bucket (``STYLEFINDER_INDEX_LOCATION``, default ``private``),
  without the CDN's custom domain and with signed URLs only (config/settings.py).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import LazyObject, cached_property, empty


def private_root() -> Path:
    """``STYLEFINDER_PRIVATE_ROOT``, or a sibling of MEDIA_ROOT named ``<MEDIA_ROOT>-private``."""
    if settings.STYLEFINDER_PRIVATE_ROOT:
        return Path(settings.STYLEFINDER_PRIVATE_ROOT)
    media = Path(settings.MEDIA_ROOT)
    return media.with_name(f"{media.name}-private")


class IndexFileStorage(FileSystemStorage):
    """Local private files. Follows MEDIA_ROOT when it changes (Django clears the cached
    location on `setting_changed`), and has no URL: nothing links to a private file."""

    @cached_property
    def base_location(self) -> str:
        return str(private_root())

    def url(self, name: str | None) -> str:
        raise ValueError(f"{name} is a private file: it has no URL.")


class IndexStorage(LazyObject):
    """`STORAGES["index"]`, looked up on first use, as `default_storage` is for the default: a
    model field keeps the storage it was given at import, so it gets this proxy."""

    def _setup(self) -> None:
        self._wrapped = storages["index"]


index_storage = IndexStorage()


@receiver(setting_changed)
def _storages_changed(*, setting: str, **kwargs) -> None:
    # What Django does for `default_storage` when a test changes STORAGES.
    if setting == "STORAGES":
        index_storage._wrapped = empty
