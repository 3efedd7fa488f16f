from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from .albums import AlbumViewSet
from .errors import not_found
from .events import EventsView
from .metrics import MetricsView
from .photos import PhotoViewSet
from .similar import SimilarToUploadView
from .widget import WidgetRecommendationsView

app_name = "api"

router = DefaultRouter()
router.register("photos", PhotoViewSet, basename="photo")
router.register("albums", AlbumViewSet, basename="album")

urlpatterns = [
    path("similar/", SimilarToUploadView.as_view(), name="similar-upload"),
    path("events/", EventsView.as_view(), name="events"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    path("widget/", WidgetRecommendationsView.as_view(), name="widget"),
    # The OpenAPI 3 schema and its interactive documentation (Swagger UI, served from this site:
    # drf-spectacular's Redoc page loads web fonts from Google, so it is not offered).
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script under the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
]

# Keep last: any other /api/ URL is a JSON 404 in the API's error shape.
urlpatterns += [re_path(r"^(?P<unmatched>[\s\S]*)$", not_found, name="not-found")]
