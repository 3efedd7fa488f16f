"""Signals of the photo library.

`library_changed` tells other apps (the recommender) that the set of photos, or what they look
like, changed: a photo was processed, deleted, edited, published or hidden. Files follow their
rows: when a photo or rendition is deleted, its file goes after the commit (or, when the storage
cannot be reached, is recorded as an `OrphanedFile` to delete later from the admin).
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from . import storage as media
from .models import Photo, Rendition

#: sent with `photo_ids` (list of ints) after the change is committed
library_changed = Signal()

#: sent when a writer (the import command, an admin upload or edit, an API upload) has finished
#: its whole change, after it is committed. Work that follows the library in-process (the
#: recommender's index in the embedded default, which has no task queue) is done now, by the
#: writer, so that no reader pays for it.
library_settled = Signal()


def announce_change(photo_ids: list[int]) -> None:
    transaction.on_commit(lambda: library_changed.send(sender=Photo, photo_ids=photo_ids))


def announce_settled() -> None:
    """The writer is done. Callbacks queued before this one (processing photos in-process) run
    first: `on_commit` keeps their order."""
    transaction.on_commit(lambda: library_settled.send(sender=Photo))


def _delete_file_on_commit(field_file, reason: str) -> None:
    """The file goes once the deletion is committed. If the storage is down then, the row stays
    deleted (the library is consistent) and the file is logged and recorded as orphaned."""
    if field_file and field_file.name:
        media.delete_files_on_commit(field_file.storage, [field_file.name], reason=reason)


@receiver(post_delete, sender=Photo)
def delete_original(sender, instance: Photo, **kwargs) -> None:
    _delete_file_on_commit(instance.original, f"photo {instance.pk} deleted")
    announce_change([instance.pk])


@receiver(post_save, sender=Photo)
def photo_saved(sender, instance: Photo, created: bool, **kwargs) -> None:
    if not created:  # a new photo counts once it has been processed
        announce_change([instance.pk])


@receiver(post_delete, sender=Rendition)
def delete_rendition_file(sender, instance: Rendition, **kwargs) -> None:
    _delete_file_on_commit(instance.file, f"rendition of photo {instance.photo_id} deleted")
