from django.contrib.sitemaps.views import sitemap
from django.urls import path, register_converter

from . import seo, views
from .sitemaps import SITEMAPS


class RowIdConverter:
    """A primary key the database can hold: 1 to 18 digits (below 2^63 on every backend), so an
    absurd id in a URL is a 404, not an overflow inside the query."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RowIdConverter, "id")

app_name = "gallery"

urlpatterns = [
    path("", views.gallery_index, name="index"),
    path("photos/<id:pk>/", views.photo_detail, name="photo"),
    path("similar/", views.find_similar, name="find_similar"),
    path("albums/", views.albums_index, name="albums"),
    path("albums/<id:pk>/", views.album_detail, name="album"),
    path("widget/", views.widget_page, name="widget"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", seo.robots_txt, name="robots"),
]
