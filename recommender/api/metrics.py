"""GET /api/metrics/: the experiment report as JSON, for staff."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from ..metrics import default_experiment, experiment_report
from ..models import Experiment


class MetricsView(APIView):
    """The report of `metrics.experiment_report`.

    `?experiment=ID` picks an experiment, `?experiment=all` covers all events; without it, the
    active experiment (all events when none is active), as `manage.py experiment_report` does.
    """

    permission_classes = [IsAdminUser]

    def get(self, request):
        choice = request.query_params.get("experiment", "").strip()
        if choice == "":
            experiment = default_experiment()
        elif choice.lower() in {"all", "none"}:
            experiment = None
        elif choice.isdigit():
            experiment = get_object_or_404(Experiment, pk=int(choice))
        else:
            raise serializers.ValidationError(
                {"experiment": "An experiment id, or “all” for every event."}
            )
        return Response(experiment_report(experiment))
