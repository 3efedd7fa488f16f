from django.core.management import call_command
from django.urls import reverse

from recommender.models import ClusterRun, RecommenderSettings
from tests.helpers.images import image_file


def test_settings_changelist_opens_the_single_settings_row(admin_client, db):
    response = admin_client.get(reverse("admin:recommender_recommendersettings_changelist"))
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "style" in text and "available" in text
    assert "Re-cluster now" in text
    assert RecommenderSettings.objects.count() == 1


def test_unavailable_cnn_is_shown_with_its_reason(admin_client, db, settings):
    from recommender.features import get_extractor

    settings.STYLEFINDER_EXTRACTORS = ["style", "cnn"]
    settings.STYLEFINDER_CNN_WEIGHTS = "/missing/weights.keras"
    RecommenderSettings.load()
    get_extractor.cache_clear()
    try:
        page = admin_client.get(reverse("admin:recommender_recommendersettings_change", args=[1]))
    finally:
        get_extractor.cache_clear()
    text = page.content.decode()
    assert "unavailable" in text
    assert "/missing/weights.keras" in text


def test_rebuild_button_builds_an_index(admin_client, ingest):
    for i in range(3):
        ingest(image_file(f"r{i}.jpg", seed=i))
    response = admin_client.post(reverse("admin:recommender_rebuild"), follow=True)
    assert ClusterRun.objects.filter(is_active=True).count() == 1
    assert "Indexed 3 photos" in response.content.decode()
    runs = admin_client.get(reverse("admin:recommender_clusterrun_changelist"))
    assert runs.status_code == 200


def _weights_form(style_weight: str) -> dict:
    return {
        "look_weight": "1",
        "style_weight": style_weight,
        "cnn_weight": "0",
        "content_weight": "0.05",
        "copy_threshold": "0.7",
        "neighbours_per_photo": "12",
        "cnn_enabled": "on",
        "cnn_pca_components": "32",
        "algorithm": "kmeans",
        "k_min": "2",
        "k_max": "20",
    }


def test_changing_weights_reclusters_before_answering_in_the_embedded_default(
    admin_client, ingest, settle
):
    for i in range(3):
        ingest(image_file(f"w{i}.jpg", seed=i))
    settle()
    before = ClusterRun.objects.get(is_active=True)
    url = reverse("admin:recommender_recommendersettings_change", args=[1])
    response = admin_client.post(url, _weights_form("3"))
    assert response.status_code == 302
    knobs = RecommenderSettings.load()
    assert knobs.style_weight == 3
    assert knobs.index_dirty_since is None
    after = ClusterRun.objects.get(is_active=True)
    assert after.pk != before.pk
    assert after.config["space"]["style_weight"] == 3


def test_changing_weights_with_a_queue_marks_the_index_stale(
    admin_client, db, settings, monkeypatch
):
    from recommender.tasks import recluster_task

    settings.CELERY_TASK_ALWAYS_EAGER = False
    queued = []
    monkeypatch.setattr(recluster_task, "apply_async", lambda **kw: queued.append(kw))
    RecommenderSettings.objects.update_or_create(pk=1, defaults={"index_dirty_since": None})
    url = reverse("admin:recommender_recommendersettings_change", args=[1])
    response = admin_client.post(url, _weights_form("3"))
    assert response.status_code == 302
    assert RecommenderSettings.load().index_dirty_since is not None
    assert len(queued) == 1
    assert not ClusterRun.objects.exists()


def test_recluster_command_reports_its_run(ingest, capsys):
    for i in range(3):
        ingest(image_file(f"c{i}.jpg", seed=i))
    call_command("recluster")
    out = capsys.readouterr().out
    assert "3 photos" in out
    run = ClusterRun.objects.get(is_active=True)
    assert run.config["blocks"] == ["look"]
    # Where the run's time went, phase by phase, kept on the run and printed.
    phases = ["vectors", "space", "neighbours", "neighbour rows", "clustering", "albums"]
    assert [phase for phase, _ in run.config["seconds"]] == [*phases, "index file"]
    # Each phase is rounded to the millisecond, so the sum may exceed the run by half a ms each.
    rounding = 0.0005 * len(run.config["seconds"])
    assert sum(seconds for _, seconds in run.config["seconds"]) <= run.duration_seconds + rounding
    assert "phases (s)  vectors " in out and "· neighbour rows " in out


def test_recluster_command_with_an_empty_library(db, capsys):
    call_command("recluster")
    assert "Fewer than two" in capsys.readouterr().out
