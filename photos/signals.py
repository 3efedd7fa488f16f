"""Files follow their rows: when a photo or rendition is deleted, its file goes after the commit."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Photo, Rendition


def _delete_file_on_commit(field_file) -> None:
    if field_file and field_file.name:
        storage, name = field_file.storage, field_file.name
        transaction.on_commit(lambda: storage.delete(name))


@receiver(post_delete, sender=Photo)
def delete_original(sender, instance: Photo, **kwargs) -> None:
    _delete_file_on_commit(instance.original)


@receiver(post_delete, sender=Rendition)
def delete_rendition_file(sender, instance: Rendition, **kwargs) -> None:
    _delete_file_on_commit(instance.file)
