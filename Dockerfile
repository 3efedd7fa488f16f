# syntax=docker/dockerfile:1
# Stylefinder's one image: the web process (gunicorn, the default command), the Celery worker and
# the one-shot `migrate` run all use it (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

# An unprivileged user owns nothing but its home (Keras' ~/.keras) and /app/media, /app/media-private (local storage).
RUN groupadd --system --gid 10001 stylefinder \
    && useradd --system --uid 10001 --gid stylefinder --create-home \
       --home-dir /home/stylefinder --shell /usr/sbin/nologin stylefinder

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes, and pip's cache
# survives between builds (BuildKit cache mount) without ending up in the image.
COPY requirements.txt ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -r requirements.txt

COPY . .

# Hashed, compressed static files for WhiteNoise, made once at build time. The secret key is a
# throw-away for this step only: nothing is signed during collectstatic, and the real key comes
# from the environment at run time.
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only-build-time-key-not-used-at-run-time \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/media /app/media-private \
    && chown stylefinder:stylefinder /app/media /app/media-private

USER stylefinder
EXPOSE 8000

# GET /healthz on the local gunicorn (database and cache checked); see config/health.py.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "config.health"]

CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
