from rest_framework.routers import DefaultRouter

from .views import PhotoViewSet

app_name = "api"

router = DefaultRouter()
router.register("photos", PhotoViewSet, basename="photo")

urlpatterns = router.urls
