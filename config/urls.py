"""Top-level URLs: admin, API, public gallery, and local media in the embedded default."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from config import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("gallery.urls")),
]


def serve_media(request, path):
    """Local media for the embedded default (MEDIA_ROOT read per request, not at import)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


if settings.STYLEFINDER_SERVE_MEDIA:
    media_prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns += [re_path(rf"^{media_prefix}(?P<path>.*)$", serve_media, name="media")]

admin.site.site_header = "Stylefinder"
admin.site.site_title = "Stylefinder admin"
admin.site.index_title = "Your photo library"
