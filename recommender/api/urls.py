from django.urls import path
from rest_framework.routers import DefaultRouter

from .events import EventsView
from .metrics import MetricsView
from .views import PhotoViewSet, SimilarToUploadView

app_name = "api"

router = DefaultRouter()
router.register("photos", PhotoViewSet, basename="photo")

urlpatterns = [
    path("similar/", SimilarToUploadView.as_view(), name="similar-upload"),
    path("events/", EventsView.as_view(), name="events"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    *router.urls,
]
