"""Index files move out of the public media into `STORAGES["index"]` (never served)."""

import logging

from django.core.files.storage import default_storage, storages
from django.db import migrations, models

import recommender.models

logger = logging.getLogger(__name__)


def move_index_files(apps, schema_editor):
    """Copy every run's index file from the media storage to the private one, then delete the
    public copy. A file that is not there (deleted, or the store is down) is left: the space
    cache then rebuilds the index, as for any unreadable file."""
    ClusterRun = apps.get_model("recommender", "ClusterRun")
    private = storages["index"]
    for run in ClusterRun.objects.exclude(space_file=""):
        name = run.space_file.name
        try:
            if not default_storage.exists(name):
                continue
            if not private.exists(name):
                with default_storage.open(name, "rb") as fh:
                    private.save(name, fh)
            default_storage.delete(name)
        except Exception as exc:  # never block the upgrade on one file
            logger.warning("Could not move index file %s of run %s: %s", name, run.pk, exc)


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0007_offered_modes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="clusterrun",
            name="space_file",
            field=models.FileField(
                blank=True,
                max_length=255,
                storage=recommender.models.index_storage,
                upload_to="index/",
            ),
        ),
        migrations.RunPython(move_index_files, migrations.RunPython.noop),
    ]
