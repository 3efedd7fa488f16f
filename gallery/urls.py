from django.urls import path

from . import views

app_name = "gallery"

urlpatterns = [
    path("", views.gallery_index, name="index"),
    path("photos/<int:pk>/", views.photo_detail, name="photo"),
    path("similar/", views.find_similar, name="find_similar"),
    path("albums/", views.albums_index, name="albums"),
    path("albums/<int:pk>/", views.album_detail, name="album"),
    path("widget/", views.widget_page, name="widget"),
]
