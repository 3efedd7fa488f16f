"""Stylefinder settings: one module, every value from the environment.

With no variable set this is the *embedded default*: SQLite in the project folder, media on local
disk, local-memory cache and DEBUG on. Every variable is documented in README.md ("Configuration").
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Core -------------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", True)

_DEV_SECRET_KEY = "django-insecure-stylefinder-local-development-key-do-not-use-in-production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "photos",
    "recommender",
    "gallery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "recommender.experiments.VisitorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gallery.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------------
# Locks and the re-cluster debounce live in the cache: with several processes (web + workers) it
# must be shared, i.e. Redis.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("STYLEFINDER_CACHE_PREFIX", "stylefinder"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------------------------
# No broker configured = the embedded default: tasks run in-process, right away.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
# Sending a task must fail fast when the broker is down (the upload is kept, pending).
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
# Quiet period after the last change before a re-cluster runs (a burst of uploads = one run).
STYLEFINDER_RECLUSTER_DELAY = env_int("STYLEFINDER_RECLUSTER_DELAY", 10)

# --- Files ------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]

MEDIA_URL = env_str("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Local media are served by Django itself (embedded default); a production deployment puts them
# behind a web server or object storage and turns this off.
STYLEFINDER_SERVE_MEDIA = env_bool("STYLEFINDER_SERVE_MEDIA", True)

# Uploads larger than this stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A zip of photos can be large; the per-file and per-archive limits below guard the content.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("STYLEFINDER_MAX_FILES_PER_UPLOAD", 500)

# --- Photo ingest limits ----------------------------------------------------------------------
STYLEFINDER_MAX_UPLOAD_BYTES = env_int("STYLEFINDER_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
STYLEFINDER_MAX_PIXELS = env_int("STYLEFINDER_MAX_PIXELS", 100_000_000)
# A visitor's "find photos like this" upload is analysed, never kept: it gets a lower ceiling.
STYLEFINDER_MAX_QUERY_PIXELS = env_int("STYLEFINDER_MAX_QUERY_PIXELS", 40_000_000)
STYLEFINDER_MAX_ZIP_BYTES = env_int("STYLEFINDER_MAX_ZIP_BYTES", 2 * 1024 * 1024 * 1024)
STYLEFINDER_MAX_ZIP_MEMBERS = env_int("STYLEFINDER_MAX_ZIP_MEMBERS", 2000)
STYLEFINDER_GALLERY_PAGE_SIZE = env_int("STYLEFINDER_GALLERY_PAGE_SIZE", 24)
STYLEFINDER_SITE_TITLE = env_str("STYLEFINDER_SITE_TITLE", "Stylefinder")

# --- Recommender ------------------------------------------------------------------------------
# Extractors run on every photo; "cnn" is skipped (and reported) when no weights can be had.
STYLEFINDER_EXTRACTORS = env_list("STYLEFINDER_EXTRACTORS", ["style", "cnn"])
# Forces one recommendation strategy for every visitor (empty: the default, style_knn).
STYLEFINDER_AB_VARIANT = env_str("STYLEFINDER_AB_VARIANT", "")
STYLEFINDER_MAX_SIMILAR = env_int("STYLEFINDER_MAX_SIMILAR", 50)
# Analytics events accepted per visitor (DRF rate syntax).
STYLEFINDER_EVENTS_RATE = env_str("STYLEFINDER_EVENTS_RATE", "120/min")
# The CNN extractor (recommender/features/cnn.py): a local model/weights file, or a Keras
# application whose ImageNet weights Keras downloads (fails fast without a network).
STYLEFINDER_CNN_WEIGHTS = env_str("STYLEFINDER_CNN_WEIGHTS")
STYLEFINDER_CNN_MODEL = env_str("STYLEFINDER_CNN_MODEL", "MobileNetV2")
STYLEFINDER_CNN_EMBEDDING_LAYER = env_str("STYLEFINDER_CNN_EMBEDDING_LAYER")
STYLEFINDER_CNN_STYLE_LAYERS = env_str("STYLEFINDER_CNN_STYLE_LAYERS")
STYLEFINDER_CNN_BATCH_SIZE = env_int("STYLEFINDER_CNN_BATCH_SIZE", 16)
STYLEFINDER_CNN_LABELS = env_str("STYLEFINDER_CNN_LABELS")
STYLEFINDER_CNN_DOWNLOAD_TIMEOUT = env_int("STYLEFINDER_CNN_DOWNLOAD_TIMEOUT", 15)

# --- Auth, i18n -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "recommender.api.pagination.PhotoPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
}

# --- Security (production: DJANGO_DEBUG=0) -----------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}
