"""POST /api/events/: impressions, clicks and time on page from the visitor's browser.

The site's own pages identify the visitor by the `sf_vid`/`sf_visit` cookies. The embeddable
widget runs on other sites, where this site's cookies are not sent: it keeps ids of its own and
sends them as `visitor` and `visit`, which then replace the cookies' ids. Forging is no easier:
an impression token is bound to the visitor id it was made for. The widget posts `text/plain`
bodies holding JSON (a CORS "simple request": no preflight, and fine for `sendBeacon`).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.throttling import WindowCountThrottle, client_address
from experiments.assignment import assign, assignment_for
from experiments.events import (
    EventRejected,
    client_hash,
    is_bot,
    record_click,
    record_impression,
    record_page_time,
    visit_for,
)
from experiments.visitors import VISIT_COOKIE

from .schema import AutoSchema
from .serializers import SignedVisitorField

HEX_ID = r"^[0-9a-f]{32}$"


class EventsRateThrottle(WindowCountThrottle):
    """Per client address (`config.throttling`): a page sends a handful of events.

    Not per visitor cookie: the client chooses its cookies, and a fresh id per request would mean
    no limit at all. The default allows a few dozen visitors behind one address (an office).
    """

    scope = "events"

    def get_rate(self) -> str:
        return settings.STYLEFINDER_EVENTS_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PlainTextJSONParser(JSONParser):
    """JSON sent as `text/plain`: what the widget's cross-origin beacons use (no preflight)."""

    media_type = "text/plain"


class EventSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["impression", "click", "dwell"])
    token = serializers.CharField(required=False, max_length=4000)
    photo = serializers.IntegerField(required=False, min_value=1)
    position = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    page_view = serializers.CharField(
        required=False,
        max_length=300,
        help_text="The page's signed page view token (events.js reads it from its script tag).",
    )
    path = serializers.CharField(required=False, max_length=300, default="")
    seconds = serializers.FloatField(required=False, min_value=0)
    visitor = SignedVisitorField(
        required=False,
        help_text="The widget's visitor id (the signed `visitor` of its list); replaces the "
        "sf_vid cookie's (other sites).",
    )
    visit = serializers.RegexField(
        HEX_ID,
        required=False,
        help_text="The widget's own visit id; replaces the sf_visit cookie's (other sites).",
    )

    def validate(self, data):
        needs = {
            "impression": ["token"],
            "click": ["token", "photo", "position"],
            "dwell": ["page_view", "seconds"],
        }[data["type"]]
        missing = [name for name in needs if data.get(name) in (None, "")]
        if missing:
            raise serializers.ValidationError(
                {name: f"Required for a {data['type']} event." for name in missing}
            )
        return data


class EventsView(APIView):
    """Record one analytics event. Answers 204; bots are ignored (also 204)."""

    authentication_classes: list = []  # cookies identify visitors; no session, no CSRF
    permission_classes: list = []
    throttle_classes = [EventsRateThrottle]
    parser_classes = [JSONParser, PlainTextJSONParser, FormParser]
    schema = AutoSchema()  # documents the API's error responses (400, 415, 429)

    @extend_schema(
        summary="Record an analytics event",
        description=(
            "An impression (`token`), a click (`token`, `photo`, `position`) or time on page "
            "(`page_view`, `path`, `seconds`). Visitors are identified by the site's cookies, "
            "or by `visitor`/`visit` (the embeddable widget). The body may be JSON sent as "
            "`text/plain` (cross-origin beacons). Requests from bots are ignored (also 204)."
        ),
        # Also accepted, undocumented here: the same JSON as text/plain (from other sites).
        request={
            "application/json": EventSerializer,
            "application/x-www-form-urlencoded": EventSerializer,
        },
        responses={204: OpenApiResponse(description="Recorded (or ignored: a bot).")},
    )
    def post(self, request):
        if is_bot(request.META.get("HTTP_USER_AGENT", "")):
            return Response(status=status.HTTP_204_NO_CONTENT)
        event = EventSerializer(data=request.data)
        event.is_valid(raise_exception=True)
        data = event.validated_data
        # The widget's own ids (from another site) replace the cookies' ids.
        explicit = bool(data.get("visitor"))
        visitor = data.get("visitor") or request.visitor_id
        # No visit id and no visit cookie: the visitor's current half hour, not a new visit.
        visit = data.get("visit") or (
            request.visit_id if VISIT_COOKIE in request.COOKIES else visit_for(visitor)
        )
        client = client_hash(client_address(request))
        try:
            if data["type"] == "impression":
                record_impression(data["token"], visitor, visit, client)
            elif data["type"] == "click":
                record_click(data["token"], visitor, visit, data["photo"], data["position"], client)
            else:
                record_page_time(
                    visitor,
                    visit,
                    str(data["page_view"]),
                    data["path"],
                    data["seconds"],
                    assign(visitor) if explicit else assignment_for(request),
                    client,
                )
        except EventRejected as exc:  # a 400 in the API's error shape; `detail` is the message
            raise ValidationError(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
