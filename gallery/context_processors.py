from django.conf import settings


def site(request):
    return {"site_title": settings.STYLEFINDER_SITE_TITLE}
