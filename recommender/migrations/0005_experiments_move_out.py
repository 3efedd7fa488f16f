"""Experiments and events now belong to the experiments app (experiments 0001): the recommender
forgets them without touching their tables."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("recommender", "0004_experiments_and_events"),
        ("experiments", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="Click"),
                migrations.DeleteModel(name="PageTime"),
                migrations.DeleteModel(name="Impression"),
                migrations.DeleteModel(name="Variant"),
                migrations.DeleteModel(name="Experiment"),
            ],
        ),
    ]
