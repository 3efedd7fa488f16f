"""Every kind of page works under the site's Content-Security-Policy: the gallery, the widget
page, the Swagger UI and the admin, with no violation reported by the browser."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from recommender.models import ClusterRun
from tests.browser.conftest import ready_photos

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def library(transactional_db):
    photos = ready_photos(4, prefix="csp", size=(320, 240), seed=70, title="Under policy")
    user = get_user_model().objects.create_superuser("curator", "c@example.com", "policy-pass-123")
    return photos, user


def visit(page, url: str, ready: str) -> str:
    """Open `url`, wait for `ready` (a selector), return the response's policy; the page must
    have reported no violation (and no console error, `page.problems`)."""
    response = page.goto(url)
    assert response.status == 200, url
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__csp") == [], url
    return response.headers["content-security-policy"]


def test_the_site_works_under_its_policy(live_server, library, page):
    photos, _ = library
    run = ClusterRun.objects.get(is_active=True)
    page.add_init_script(RECORD_VIOLATIONS)
    site = live_server.url

    gallery = visit(page, f"{site}/", "main img")
    assert "script-src 'self'" in gallery and "style-src 'self';" in gallery + ";"
    assert "'unsafe-inline'" not in gallery and "'unsafe-eval'" not in gallery
    visit(page, f"{site}{photos[0].get_absolute_url()}", "main img")
    visit(page, f"{site}/similar/", "input[type=file]")
    visit(page, f"{site}/widget/?photo={photos[0].pk}", "[data-stylefinder-photo] img")

    docs = visit(page, f"{site}/api/docs/", ".swagger-ui .info")
    assert "script-src 'self'" in docs and "'unsafe-eval'" not in docs

    visit(page, f"{site}/admin/login/", "input[name=username]")
    page.fill("input[name=username]", "curator")
    page.fill("input[name=password]", "policy-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{site}/admin/")
    admin = visit(page, f"{site}/admin/photos/photo/", "#result_list")
    assert "script-src 'self';" in admin + ";"
    visit(page, f"{site}/admin/photos/photo/{photos[0].pk}/change/", "#photo_form")
    visit(page, f"{site}/admin/recommender/clusterrun/{run.pk}/change/", "#content")
    visit(page, f"{site}/admin/recommender/recommendersettings/1/change/", "#content")
    page.problems.assert_none()
