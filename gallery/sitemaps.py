"""sitemap.xml (django.contrib.sitemaps): what visitors can see, so search engines find it too.

Photos by the one public rule (`Photo.objects.public()`), the albums the albums page lists, and
the gallery's fixed pages. A hidden, unpublished or unprocessed photo is never listed.
"""

from __future__ import annotations

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from photos.models import Photo

from . import selectors


class PhotoSitemap(Sitemap):
    changefreq = "monthly"
    limit = 10_000  # one sitemap page; django.contrib.sitemaps paginates above it

    def items(self):
        return Photo.objects.public().order_by("-created_at", "-id").only("id", "updated_at")

    def lastmod(self, photo: Photo):
        return photo.updated_at


class AlbumSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return [card.album for card in selectors.albums_overview().cards]


class StaticViewSitemap(Sitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        return ["gallery:index", "gallery:albums", "gallery:find_similar"]

    def location(self, name: str) -> str:
        return reverse(name)


SITEMAPS = {"pages": StaticViewSitemap, "photos": PhotoSitemap, "albums": AlbumSitemap}
