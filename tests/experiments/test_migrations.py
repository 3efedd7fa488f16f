"""The A/B tables moved from the recommender app to experiments (experiments 0001, recommender
0005) without touching the database: an existing database of the old schema must upgrade with
`migrate` and keep every row, field value and foreign key, and its content types (with the
permissions hanging off them) must follow the models.

The tests migrate the test database back to the state before the move, write rows through the
historical models of that state, migrate forward and read them through the current models. They
leave the database fully migrated, as the next test expects.
"""

import datetime
import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from experiments.models import Click, Experiment, Impression, PageTime, Variant

pytestmark = pytest.mark.django_db(transaction=True)

MOVED = ("experiment", "variant", "impression", "click", "pagetime")
UTC = datetime.UTC


def _executor() -> MigrationExecutor:
    return MigrationExecutor(connection)


def _latest() -> list[tuple[str, str]]:
    return _executor().loader.graph.leaf_nodes()


def _before_move() -> list[tuple[str | None, str | None]]:
    """The recommender just before the move, every other app at its latest, no experiments."""
    targets = [node for node in _latest() if node[0] not in ("recommender", "experiments")]
    return [*targets, ("recommender", "0004_experiments_and_events"), ("experiments", None)]


def _migrate(targets):
    """Migrate to `targets` and return the historical apps of the state reached."""
    executor = _executor()
    executor.migrate(targets)
    executor.loader.build_graph()
    ContentType.objects.clear_cache()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


@pytest.fixture
def back_to_latest():
    """Whatever a test does to the schema, the next test finds it fully migrated."""
    yield
    _migrate(_latest())


def _old_rows(apps) -> dict:
    """The rows an installation of the old schema would hold, written with its models."""
    Photo = apps.get_model("photos", "Photo")
    Experiment = apps.get_model("recommender", "Experiment")
    Variant = apps.get_model("recommender", "Variant")
    Impression = apps.get_model("recommender", "Impression")
    Click = apps.get_model("recommender", "Click")
    PageTime = apps.get_model("recommender", "PageTime")
    OldContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")

    photos = [
        Photo.objects.create(
            original=f"originals/p{i}.jpg",
            original_filename=f"p{i}.jpg",
            title=f"Photo {i}",
            sha256=f"{i:064x}",
            width=800,
            height=600,
            status="ready",
        )
        for i in range(1, 4)
    ]
    experiment = Experiment.objects.create(
        name="Style vs random",
        description="Does style beat chance?",
        is_active=True,
        starts_at=datetime.datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=datetime.datetime(2026, 2, 1, tzinfo=UTC),
    )
    control = Variant.objects.create(
        experiment=experiment, name="control", strategy="random", weight=1.0
    )
    style = Variant.objects.create(
        experiment=experiment, name="style", strategy="style_knn", weight=2.5
    )
    items = [
        {"photo": photos[1].pk, "position": 0, "score": 0.93},
        {"photo": photos[2].pk, "position": 1, "score": 0.81},
    ]
    shown = Impression.objects.create(
        token=uuid.UUID("11111111-1111-1111-1111-111111111111"),
        visitor_id="visitor-a",
        visit_id="visit-a",
        experiment=experiment,
        variant="style",
        strategy="style_knn",
        source="photo",
        source_photo=photos[0],
        items=items,
    )
    orphan = Impression.objects.create(
        token=uuid.UUID("22222222-2222-2222-2222-222222222222"),
        visitor_id="visitor-b",
        visit_id="",
        experiment=None,
        variant="control",
        strategy="random",
        source="widget",
        source_photo=None,
        items=[],
    )
    clicks = [
        Click.objects.create(
            impression=shown,
            visitor_id="visitor-a",
            visit_id="visit-a",
            variant="style",
            target=photos[1],
            position=0,
        ),
        Click.objects.create(
            impression=shown,
            visitor_id="visitor-a",
            visit_id="visit-a",
            variant="style",
            target=None,
            position=1,
        ),
    ]
    page_time = PageTime.objects.create(
        visitor_id="visitor-a",
        visit_id="visit-a",
        experiment=experiment,
        variant="style",
        path="/photos/1/",
        page_view=uuid.UUID("33333333-3333-3333-3333-333333333333"),
        seconds=12.5,
    )
    # An old database has its content types (and admin permissions) under the recommender app;
    # the test database migrated back has them too, or gets them here.
    content_type, _ = OldContentType.objects.get_or_create(
        app_label="recommender", model="experiment"
    )
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename="change_experiment",
        defaults={"name": "Can change experiment"},
    )
    return {
        "photos": [p.pk for p in photos],
        "experiment": experiment,
        "variants": [control, style],
        "impressions": [shown, orphan],
        "clicks": clicks,
        "page_time": page_time,
        "content_type": content_type.pk,
        "permission": permission.pk,
    }


def test_old_database_upgrades_and_loses_nothing(back_to_latest):
    old_apps = _migrate(_before_move())
    assert "experiments" not in {c.label for c in old_apps.get_app_configs()}
    old = _old_rows(old_apps)

    _migrate(_latest())

    experiment = Experiment.objects.get(pk=old["experiment"].pk)
    assert experiment.name == "Style vs random"
    assert experiment.description == "Does style beat chance?"
    assert experiment.is_active is True
    assert experiment.starts_at == datetime.datetime(2026, 1, 1, tzinfo=UTC)
    assert experiment.ends_at == datetime.datetime(2026, 2, 1, tzinfo=UTC)
    assert experiment.created_at == old["experiment"].created_at

    assert [(v.pk, v.name, v.strategy, v.weight) for v in experiment.variants.all()] == [
        (v.pk, v.name, v.strategy, v.weight) for v in old["variants"]
    ]

    shown, orphan = (Impression.objects.get(pk=i.pk) for i in old["impressions"])
    assert shown.token == old["impressions"][0].token
    assert (shown.visitor_id, shown.visit_id, shown.variant, shown.strategy, shown.source) == (
        "visitor-a",
        "visit-a",
        "style",
        "style_knn",
        "photo",
    )
    assert shown.experiment == experiment
    assert shown.source_photo_id == old["photos"][0]
    assert shown.items == old["impressions"][0].items
    assert shown.created_at == old["impressions"][0].created_at
    assert list(experiment.impressions.all()) == [shown]
    assert orphan.experiment is None and orphan.source_photo is None and orphan.items == []
    assert orphan.source == "widget"

    clicks = {c.pk: c for c in Click.objects.all()}
    assert set(clicks) == {c.pk for c in old["clicks"]}
    for before in old["clicks"]:
        after = clicks[before.pk]
        assert after.impression == shown
        assert after.target_id == before.target_id
        assert (after.position, after.variant, after.visitor_id, after.visit_id) == (
            before.position,
            before.variant,
            before.visitor_id,
            before.visit_id,
        )
        assert after.created_at == before.created_at
    assert sorted(shown.clicks.values_list("position", flat=True)) == [0, 1]

    page_time = PageTime.objects.get()
    before = old["page_time"]
    assert page_time.pk == before.pk
    assert page_time.experiment == experiment
    assert (page_time.path, page_time.page_view, page_time.seconds) == (
        "/photos/1/",
        before.page_view,
        12.5,
    )
    assert (page_time.created_at, page_time.updated_at) == (before.created_at, before.updated_at)

    # Nothing is left behind and nothing is doubled.
    assert Experiment.objects.count() == 1
    assert Variant.objects.count() == 2
    assert Impression.objects.count() == 2

    # The content type moved with the model (same row, so permissions and log entries follow).
    content_type = ContentType.objects.get(pk=old["content_type"])
    assert (content_type.app_label, content_type.model) == ("experiments", "experiment")
    assert content_type.model_class() is Experiment
    assert ContentType.objects.get_for_model(Experiment).pk == old["content_type"]
    assert not ContentType.objects.filter(app_label="recommender", model__in=MOVED).exists()
    from django.contrib.auth.models import Permission

    permission = Permission.objects.get(pk=old["permission"])
    assert permission.content_type_id == old["content_type"]
    assert permission.content_type.app_label == "experiments"


def test_reverse_migration_gives_the_rows_back_to_the_recommender(back_to_latest):
    experiment = Experiment.objects.create(name="Back", is_active=False)
    variant = Variant.objects.create(experiment=experiment, name="control", strategy="none")
    impression = Impression.objects.create(
        token=uuid.uuid4(),
        visitor_id="v",
        experiment=experiment,
        variant="control",
        strategy="none",
        source="upload",
        items=[{"photo": 1, "position": 0, "score": 0.5}],
    )
    Click.objects.create(impression=impression, visitor_id="v", variant="control", position=0)
    content_type = ContentType.objects.get_for_model(Experiment)

    old_apps = _migrate(_before_move())

    OldExperiment = old_apps.get_model("recommender", "Experiment")
    OldImpression = old_apps.get_model("recommender", "Impression")
    OldContentType = old_apps.get_model("contenttypes", "ContentType")
    old_experiment = OldExperiment.objects.get(pk=experiment.pk)
    assert old_experiment.name == "Back"
    assert list(old_experiment.variants.values_list("pk", "name")) == [(variant.pk, "control")]
    old_impression = OldImpression.objects.get(pk=impression.pk)
    assert old_impression.experiment_id == experiment.pk
    assert old_impression.items == impression.items
    assert old_impression.clicks.count() == 1
    moved_back = OldContentType.objects.get(pk=content_type.pk)
    assert (moved_back.app_label, moved_back.model) == ("recommender", "experiment")
    assert not OldContentType.objects.filter(app_label="experiments").exists()

    _migrate(_latest())

    assert Experiment.objects.get(pk=experiment.pk).variants.get() == variant
    assert ContentType.objects.get(pk=content_type.pk).app_label == "experiments"
