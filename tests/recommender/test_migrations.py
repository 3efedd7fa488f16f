"""recommender 0006: the look weight arrives; a settings row still on the old defaults moves to
the new ones, weights a photographer chose are kept. 0009: k max on the old default (20) becomes
empty (grows with the gallery), a chosen k max is kept."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from recommender.blocks import SpaceSettings
from recommender.models import RecommenderSettings

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("recommender", "0005_experiments_move_out")


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _row_before(**weights) -> None:
    apps = _migrate([BEFORE])
    settings = apps.get_model("recommender", "RecommenderSettings")
    settings.objects.all().delete()
    settings.objects.create(pk=1, **weights)


def _after() -> RecommenderSettings:
    """The row after 0006 and every later migration (read through today's model)."""
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    return RecommenderSettings.objects.get(pk=1)


def test_untouched_settings_move_to_the_look_first_defaults(latest):
    _row_before(style_weight=2.0, cnn_weight=1.0, content_weight=0.25)
    row = _after()
    defaults = SpaceSettings()
    assert row.space_settings() == defaults


def test_chosen_weights_are_kept_and_the_look_is_added(latest):
    _row_before(style_weight=3.0, cnn_weight=0.5, content_weight=0.25)
    row = _after()
    assert (row.style_weight, row.cnn_weight, row.content_weight) == (3.0, 0.5, 0.25)
    assert row.look_weight == 1.0


def test_the_model_defaults_are_the_space_defaults(db):
    RecommenderSettings.objects.all().delete()
    assert RecommenderSettings.load().space_settings() == SpaceSettings()


@pytest.mark.parametrize(("before", "after"), [(20, None), (12, 12)])
def test_k_max_on_the_old_default_grows_with_the_gallery(latest, before, after):
    _row_before(k_max=before)
    assert _after().k_max == after
