"""Stylefinder settings: one module, every value from the environment.

With no variable set this is the *embedded default*: SQLite in the project folder, media on local
disk, local-memory cache and DEBUG on. Every variable is documented in README.md ("Configuration").
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

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
    "django.contrib.sitemaps",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from here, not from a CDN
    "axes",  # failed logins counted per address; locked out past the limit
    "csp",
    "photos",
    "recommender",
    "experiments",
    "api",
    "gallery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (config/csp.py).
    "config.csp.StylefinderCSPMiddleware",
    # Static files straight from the app server (compressed, cached forever when hashed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before CommonMiddleware, so that redirects and errors carry CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "experiments.middleware.VisitorMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): the first backend refuses a login from an address that failed
# STYLEFINDER_LOGIN_FAILURE_LIMIT times, for STYLEFINDER_LOGIN_COOLOFF_MINUTES. Per address, not
# per user name: a stranger must not be able to lock the photographer out from elsewhere. The
# address is the rate limits' own (config/throttling.py: X-Forwarded-For only behind proxies).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("STYLEFINDER_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("STYLEFINDER_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "config.throttling.login_locked_out"

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
                "experiments.context_processors.page_view",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has several processes on one file (the site, an import and its
    # processing processes): readers do not block the writer (WAL), a transaction takes the write
    # lock when it starts rather than failing to upgrade to it, and a writer waits its turn.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------------
# Locks and the re-cluster debounce live in the cache: with several processes (web + workers) it
# must be shared, i.e. Redis.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, except that an unreachable Redis is a miss, not a 500: the
            # site keeps serving while Redis is down (config/cache.py).
            "BACKEND": "config.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("STYLEFINDER_CACHE_PREFIX", "stylefinder"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------------------------
# No broker configured = the embedded default: tasks run in-process, right away. Celery still
# opens a producer for an eager task; kombu's in-memory transport keeps it from looking for an
# AMQP broker on localhost (and warning that no hostname was given).
CELERY_TASK_ALWAYS_EAGER = not env_str("CELERY_BROKER_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "memory://localhost//"
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
# A processed photo joins the active index on its own (neighbours, lists, album) until the photos
# added so since the last full re-fit pass this percentage of it; the next change re-fits. 0: every
# change re-fits.
STYLEFINDER_REFIT_PERCENT = env_int("STYLEFINDER_REFIT_PERCENT", 10)

# --- Files ------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed file names need `collectstatic` first, so only production uses them; the
# embedded default and the tests serve the files as they are.
STYLEFINDER_STATIC_MANIFEST = env_bool("STYLEFINDER_STATIC_MANIFEST", not DEBUG)
STATICFILES_BACKEND = (
    "whitenoise.storage.CompressedManifestStaticFilesStorage"
    if STYLEFINDER_STATIC_MANIFEST
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
)
# Without collectstatic's output (embedded default, tests) WhiteNoise serves the source folders.
WHITENOISE_USE_FINDERS = not STYLEFINDER_STATIC_MANIFEST
# The widget script is loaded by other sites under its plain name: it must stay fresh.
WHITENOISE_MAX_AGE = env_int("STYLEFINDER_STATIC_MAX_AGE", 0 if DEBUG else 3600)

MEDIA_URL = env_str("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "media")

# Media (originals and renditions): local disk by default, or any S3-compatible store
# (AWS S3, MinIO, ...) through django-storages.
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local").strip().lower()
if STORAGE_BACKEND == "local":
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif STORAGE_BACKEND == "s3":
    from botocore.config import Config as BotoConfig

    AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME")
    AWS_S3_CUSTOM_DOMAIN = env_str("AWS_S3_CUSTOM_DOMAIN") or None
    MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            # Empty = AWS itself; set for MinIO and other S3-compatible stores.
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            # Empty keys = boto3's own chain (instance role, ~/.aws, AWS_* variables).
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "location": env_str("AWS_LOCATION", "media"),
            # A CDN or public domain in front of the bucket serves plain URLs; without one the
            # bucket stays private and every URL is signed for AWS_QUERYSTRING_EXPIRE seconds.
            "custom_domain": AWS_S3_CUSTOM_DOMAIN,
            "querystring_auth": env_bool("AWS_QUERYSTRING_AUTH", AWS_S3_CUSTOM_DOMAIN is None),
            "querystring_expire": env_int("AWS_QUERYSTRING_EXPIRE", 3600),
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,  # names are random anyway; never replace an original
            "object_parameters": {"CacheControl": "max-age=31536000, immutable"},
            # A dead store must fail a request in seconds, not hang it.
            "client_config": BotoConfig(
                connect_timeout=env_int("AWS_S3_CONNECT_TIMEOUT", 5),
                read_timeout=env_int("AWS_S3_READ_TIMEOUT", 30),
                retries={"max_attempts": env_int("AWS_S3_MAX_ATTEMPTS", 3), "mode": "standard"},
                signature_version="s3v4",
                s3={"addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or "auto"},
            ),
        },
    }
else:
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'local' or 's3', not {STORAGE_BACKEND!r}")

# Index files (every run's photo ids and vectors, unpublished photos included) are not media:
# a storage nothing serves (config/private_storage.py).
STYLEFINDER_PRIVATE_ROOT = env_str("STYLEFINDER_PRIVATE_ROOT")
# Where web processes keep a local copy of a remote (S3) index file to map it into memory, one
# copy per machine (default: <private root>/mapped). Local index files are mapped where they are.
STYLEFINDER_INDEX_CACHE_DIR = env_str("STYLEFINDER_INDEX_CACHE_DIR")
if STORAGE_BACKEND == "s3":
    INDEX_STORAGE = {
        "BACKEND": MEDIA_STORAGE["BACKEND"],
        "OPTIONS": {
            **MEDIA_STORAGE["OPTIONS"],
            "location": env_str("STYLEFINDER_INDEX_LOCATION", "private"),
            "custom_domain": None,  # never behind the public domain or CDN of the media
            "querystring_auth": True,
            "object_parameters": {},
        },
    }
else:
    INDEX_STORAGE = {"BACKEND": "config.private_storage.IndexFileStorage"}

STORAGES = {
    "default": MEDIA_STORAGE,
    "index": INDEX_STORAGE,
    "staticfiles": {"BACKEND": STATICFILES_BACKEND},
}


# --- Content-Security-Policy (django-csp; what the admin and /api/docs/ add: config/csp.py) -----
# Images come from here and from where the media are served (object storage, a CDN).
def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


MEDIA_ORIGINS = [_origin_of(MEDIA_URL)] if _origin_of(MEDIA_URL) else []
if STORAGE_BACKEND == "s3":
    if AWS_S3_CUSTOM_DOMAIN:
        MEDIA_ORIGINS.append(f"https://{AWS_S3_CUSTOM_DOMAIN}")
    elif MEDIA_STORAGE["OPTIONS"]["endpoint_url"]:
        MEDIA_ORIGINS.append(_origin_of(MEDIA_STORAGE["OPTIONS"]["endpoint_url"]))
    else:
        MEDIA_ORIGINS.append("https://*.amazonaws.com")
MEDIA_ORIGINS += env_list("STYLEFINDER_CSP_MEDIA_ORIGINS", [])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: the /similar/ preview of the visitor's own photo, blob: a file picked for upload
        "img-src": ["'self'", "data:", "blob:", *dict.fromkeys(MEDIA_ORIGINS)],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
}

# Local media are served by Django itself (embedded default); a production deployment puts them
# behind a web server or object storage and turns this off.
STYLEFINDER_SERVE_MEDIA = env_bool("STYLEFINDER_SERVE_MEDIA", STORAGE_BACKEND == "local")

# Uploads larger than this stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A zip of photos can be large; the per-file and per-archive limits below guard the content.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("STYLEFINDER_MAX_FILES_PER_UPLOAD", 500)

# --- Photo ingest limits ----------------------------------------------------------------------
# In megabytes of 10^6 bytes, the unit every message and the README use ("50 MB").
STYLEFINDER_MAX_UPLOAD_BYTES = env_int("STYLEFINDER_MAX_UPLOAD_BYTES", 50_000_000)
STYLEFINDER_MAX_PIXELS = env_int("STYLEFINDER_MAX_PIXELS", 100_000_000)
# A visitor's "find photos like this" upload is analysed, never kept: it gets a lower ceiling.
STYLEFINDER_MAX_QUERY_PIXELS = env_int("STYLEFINDER_MAX_QUERY_PIXELS", 40_000_000)
# Query images decoded at once per process, and how long another upload waits for a turn
# (photos/uploads.py): what bounds a worker's memory under many concurrent uploads.
STYLEFINDER_QUERY_CONCURRENCY = env_int("STYLEFINDER_QUERY_CONCURRENCY", 2)
STYLEFINDER_QUERY_WAIT_SECONDS = env_int("STYLEFINDER_QUERY_WAIT_SECONDS", 20)
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
# Seconds a photo page (per photo and A/B variant) and a similar-photos answer stay cached;
# any change of the library replaces them at once (recommender/content_version.py). 0: off.
STYLEFINDER_PAGE_CACHE_SECONDS = env_int("STYLEFINDER_PAGE_CACHE_SECONDS", 300)
# Analytics events accepted per visitor (DRF rate syntax).
STYLEFINDER_EVENTS_RATE = env_str("STYLEFINDER_EVENTS_RATE", "300/min")
# A/B reports leave out every event of an address behind more visitor ids than this.
STYLEFINDER_AB_MAX_VISITORS_PER_ADDRESS = env_int("STYLEFINDER_AB_MAX_VISITORS_PER_ADDRESS", 10)
# ... and every event of a visitor who clicked a list sooner than this after it was issued.
STYLEFINDER_AB_MIN_CLICK_MS = env_int("STYLEFINDER_AB_MIN_CLICK_MS", 500)
# The CNN extractor (recommender/features/cnn.py): a local model/weights file, or a Keras
# application whose ImageNet weights Keras downloads (fails fast without a network).
STYLEFINDER_CNN_WEIGHTS = env_str("STYLEFINDER_CNN_WEIGHTS")
STYLEFINDER_CNN_MODEL = env_str("STYLEFINDER_CNN_MODEL", "MobileNetV2")
STYLEFINDER_CNN_EMBEDDING_LAYER = env_str("STYLEFINDER_CNN_EMBEDDING_LAYER")
STYLEFINDER_CNN_STYLE_LAYERS = env_str("STYLEFINDER_CNN_STYLE_LAYERS")
STYLEFINDER_CNN_BATCH_SIZE = env_int("STYLEFINDER_CNN_BATCH_SIZE", 16)
STYLEFINDER_CNN_DOWNLOAD_TIMEOUT = env_int("STYLEFINDER_CNN_DOWNLOAD_TIMEOUT", 15)
# Where the compiled (LiteRT) copy of the CNN is kept (blank: ~/.cache/stylefinder/cnn; "none":
# every process loads Keras), and the threads one inference uses (0: every core).
STYLEFINDER_CNN_CACHE_DIR = env_str("STYLEFINDER_CNN_CACHE_DIR")
STYLEFINDER_CNN_THREADS = env_int("STYLEFINDER_CNN_THREADS", 0)

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
# Proxies in front of the site (0: none, the client connects directly): config/throttling.py.
NUM_PROXIES = env_int("STYLEFINDER_NUM_PROXIES", 0)
REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PhotoPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Staff scripts: `Authorization: Token <key>` (keys made in the admin or with
        # `manage.py drf_create_token USER`).
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    # drf-spectacular's, plus the API's error responses on every operation.
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    # Rate limits key on the connecting address, or with proxies on the address the nearest
    # one saw in X-Forwarded-For; never on the whole header, which the client writes.
    "NUM_PROXIES": NUM_PROXIES,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        # Reading: generous; per client address.
        "anon": env_str("STYLEFINDER_API_ANON_RATE", "600/min"),
        "user": env_str("STYLEFINDER_API_USER_RATE", "3000/min"),
        # Image analysis is the expensive call: anonymous "find similar" uploads.
        "similar_upload": env_str("STYLEFINDER_SIMILAR_UPLOAD_RATE", "20/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stylefinder API",
    "DESCRIPTION": (
        "Photos, style recommendations, albums and A/B analytics of a Stylefinder gallery."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The interactive docs (/api/docs/) load their assets from this site.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No validator badge: Swagger UI would fetch it from validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,
        "persistAuthorization": True,
        "validatorUrl": None,
    },
}

# --- Widget on other websites -----------------------------------------------------------------
# Origins (scheme://host[:port]) whose pages may embed the widget and call the API from the
# browser. Empty = the API answers no cross-origin browser requests.
STYLEFINDER_WIDGET_ORIGINS = env_list("STYLEFINDER_WIDGET_ORIGINS", [])
CORS_ALLOWED_ORIGINS = STYLEFINDER_WIDGET_ORIGINS
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False  # the widget identifies visitors itself; no cookies cross sites
CORS_PREFLIGHT_MAX_AGE = 86400

# --- Security (production: DJANGO_DEBUG=0) -----------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Load balancers often check over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    # Warnings are for what someone must act on; these INFO lines are not.
    "loggers": {
        "axes": {"level": "WARNING"},  # a banner per process start (lockouts are warnings)
        "django.utils.autoreload": {"level": "WARNING"},  # runserver prints it already
        "faiss.loader": {"level": "WARNING"},  # which instruction sets it tried, per process
        # In-process tasks: a "succeeded" line per photo. A worker keeps them (its own log).
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}
