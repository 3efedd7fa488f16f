"""POST /api/events/: impressions, clicks and time on page from the visitor's browser."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from ..events import EventRejected, is_bot, record_click, record_impression, record_page_time
from ..experiments import assignment_for


class VisitorRateThrottle(SimpleRateThrottle):
    """Per visitor cookie (per address without one): a page sends a handful of events."""

    scope = "events"

    def get_rate(self) -> str:
        return settings.STYLEFINDER_EVENTS_RATE

    def get_cache_key(self, request, view) -> str:
        ident = getattr(request, "visitor_id", None) or self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class EventSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["impression", "click", "dwell"])
    token = serializers.CharField(required=False, max_length=4000)
    photo = serializers.IntegerField(required=False, min_value=1)
    position = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    page_view = serializers.UUIDField(required=False)
    path = serializers.CharField(required=False, max_length=300, default="")
    seconds = serializers.FloatField(required=False, min_value=0)

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
    throttle_classes = [VisitorRateThrottle]
    parser_classes = [JSONParser, FormParser]

    def post(self, request):
        if is_bot(request.META.get("HTTP_USER_AGENT", "")):
            return Response(status=status.HTTP_204_NO_CONTENT)
        event = EventSerializer(data=request.data)
        event.is_valid(raise_exception=True)
        data = event.validated_data
        visitor, visit = request.visitor_id, request.visit_id
        try:
            if data["type"] == "impression":
                record_impression(data["token"], visitor, visit)
            elif data["type"] == "click":
                record_click(data["token"], visitor, visit, data["photo"], data["position"])
            else:
                record_page_time(
                    visitor,
                    visit,
                    str(data["page_view"]),
                    data["path"],
                    data["seconds"],
                    assignment_for(request),
                )
        except EventRejected as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(status=status.HTTP_204_NO_CONTENT)
