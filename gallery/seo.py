"""robots.txt: crawl the gallery, not the admin, the API or upload results; where the sitemap is."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    sitemap = request.build_absolute_uri(reverse("gallery:sitemap"))
    return render(request, "robots.txt", {"sitemap_url": sitemap}, content_type="text/plain")
