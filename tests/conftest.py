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
def fresh_cache():
    """Rate-limit counters, locks and debounce state live in the cache: every test starts empty."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ingest(db, django_capture_on_commit_callbacks):
    """Ingest a file and run the after-commit processing, as a real request would."""
    from photos.services import ingest_photo

    def _ingest(file, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            photo = ingest_photo(file, **kwargs)
        photo.refresh_from_db()
        return photo

    return _ingest
