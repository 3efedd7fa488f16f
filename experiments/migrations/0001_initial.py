"""The experiment and event tables move here from the recommender app.

The tables keep their names (`recommender_experiment`, …): only Django's idea of which app owns
them changes, so an existing database upgrades with `migrate` and keeps every row. A new
database gets the tables from recommender 0004 first, as before. The content types (and with
them admin permissions and log entries) follow the models.
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED = ("experiment", "variant", "impression", "click", "pagetime")


def move_content_types(apps, schema_editor, old="recommender", new="experiments"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        # A content type already made for the new app (by a post_migrate in between) gives way.
        if ContentType.objects.using(db).filter(app_label=old, model=model).exists():
            ContentType.objects.using(db).filter(app_label=new, model=model).delete()
        ContentType.objects.using(db).filter(app_label=old, model=model).update(app_label=new)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, old="experiments", new="recommender")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("photos", "0001_initial"),
        ("recommender", "0004_experiments_and_events"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Experiment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120)),
                        ('description', models.TextField(blank=True)),
                        ('is_active', models.BooleanField(default=False, help_text='Only one experiment is active at a time.')),
                        ('starts_at', models.DateTimeField(blank=True, null=True)),
                        ('ends_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'recommender_experiment',
                        'ordering': ['-created_at', '-id'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('is_active', True)), fields=('is_active',), name='one_active_experiment')],
                    },
                ),
                migrations.CreateModel(
                    name='Impression',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('token', models.UUIDField(unique=True)),
                        ('visitor_id', models.CharField(db_index=True, max_length=64)),
                        ('visit_id', models.CharField(blank=True, db_index=True, max_length=64)),
                        ('variant', models.CharField(db_index=True, max_length=40)),
                        ('strategy', models.CharField(max_length=20)),
                        ('source', models.CharField(help_text='photo page, upload or widget', max_length=20)),
                        ('items', models.JSONField(default=list, help_text='[{"photo", "position", "score"}, …]')),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('experiment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='impressions', to='experiments.experiment')),
                        ('source_photo', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='photos.photo')),
                    ],
                    options={
                        'db_table': 'recommender_impression',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='Click',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('visitor_id', models.CharField(db_index=True, max_length=64)),
                        ('visit_id', models.CharField(blank=True, max_length=64)),
                        ('variant', models.CharField(db_index=True, max_length=40)),
                        ('position', models.PositiveSmallIntegerField()),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('target', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='photos.photo')),
                        ('impression', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='clicks', to='experiments.impression')),
                    ],
                    options={
                        'db_table': 'recommender_click',
                        'ordering': ['-created_at'],
                        'constraints': [models.UniqueConstraint(fields=('impression', 'position'), name='one_click_per_position')],
                    },
                ),
                migrations.CreateModel(
                    name='PageTime',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('visitor_id', models.CharField(db_index=True, max_length=64)),
                        ('visit_id', models.CharField(db_index=True, max_length=64)),
                        ('variant', models.CharField(db_index=True, max_length=40)),
                        ('path', models.CharField(max_length=300)),
                        ('page_view', models.UUIDField(help_text='One page view; repeated beacons update its time.')),
                        ('seconds', models.FloatField()),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('experiment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='experiments.experiment')),
                    ],
                    options={
                        'db_table': 'recommender_pagetime',
                        'constraints': [models.UniqueConstraint(fields=('page_view',), name='one_row_per_view')],
                    },
                ),
                migrations.CreateModel(
                    name='Variant',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.SlugField(help_text="Shown in reports, e.g. 'control'.", max_length=40)),
                        ('strategy', models.CharField(choices=[('style_knn', 'Nearest in style'), ('cluster', 'Same album, nearest first'), ('popular', 'Most clicked recently'), ('random', 'Random photos'), ('none', 'No recommendations')], max_length=20)),
                        ('weight', models.FloatField(default=1.0, help_text='Share of visitors, relative to the others.')),
                        ('experiment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='variants', to='experiments.experiment')),
                    ],
                    options={
                        'db_table': 'recommender_variant',
                        'ordering': ['id'],
                        'constraints': [models.UniqueConstraint(fields=('experiment', 'name'), name='unique_variant_name'), models.CheckConstraint(condition=models.Q(('weight__gt', 0)), name='variant_weight_positive')],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
