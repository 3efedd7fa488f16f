import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test writes its media to its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def style_features_only(settings):
    """Unit tests run on the fast style features; CNN tests opt in with the shared model."""
    settings.STYLEFINDER_EXTRACTORS = ["style"]
    from recommender.selectors import space_cache

    space_cache.clear()
    yield
    space_cache.clear()


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    """Rate-limit counters, locks and debounce state live in the cache: every test starts empty
    (and with no stale check done by this process)."""
    from django.core.cache import cache

    from recommender import services

    monkeypatch.setattr(services, "_next_stale_check", 0.0)
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ingest(db, django_capture_on_commit_callbacks):
    """Ingest a file and run the after-commit processing, as `ingest_photo` in a request would.

    Like the service, it leaves the index stale: a writer that is done calls `settle`."""
    from photos.services import ingest_photo

    def _ingest(file, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            photo = ingest_photo(file, **kwargs)
        photo.refresh_from_db()
        return photo

    return _ingest


@pytest.fixture
def settle(db, django_capture_on_commit_callbacks):
    """The writer is done (photos.signals.announce_settled): in the embedded default this is
    where the index is re-clustered, as after an upload, an import or an admin edit."""
    from photos.signals import announce_settled

    def _settle():
        with django_capture_on_commit_callbacks(execute=True):
            announce_settled()

    return _settle
