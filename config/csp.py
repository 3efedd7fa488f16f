"""The Content-Security-Policy of every page (django-csp; the policy itself is in settings).

Scripts come from this site only, everywhere: no inline script, no `eval`. The gallery, the
widget page and the API's JSON need nothing more: their markup has no inline style either. Two
places get one relaxation, `style-src 'unsafe-inline'` (style attributes), because markup they do
not control carries them: the Django admin (its own templates and the admin displays) and the
Swagger UI of `/api/docs/` (a React bundle that styles its elements inline). Their scripts stay
as strict as the rest.
"""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts

#: path prefixes whose pages may carry inline style attributes
INLINE_STYLE_PREFIXES = ("/admin/", "/api/docs/")


class StylefinderCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(INLINE_STYLE_PREFIXES):
            parts.update = {**(parts.update or {}), "style-src": [UNSAFE_INLINE]}
        return parts
