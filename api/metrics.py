"""GET /api/metrics/: the experiment report as JSON, for staff."""

from __future__ import annotations

import re

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from experiments.formatting import CONFIDENCE_LABEL, RANKING_COLUMNS
from experiments.models import Experiment
from experiments.selectors import default_experiment, experiment_report

from .base import ApiViewMixin
from .errors import ErrorSerializer

# --- the report's shape (experiments.report.build_report) ----------------------------------------


def _interval(**kwargs):
    return serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        allow_null=True,
        help_text=(
            f"[low, high] of the {CONFIDENCE_LABEL} confidence interval; null without enough data."
        ),
        **kwargs,
    )


def _number(**kwargs):
    return serializers.FloatField(allow_null=True, **kwargs)


class ExperimentVariantSerializer(serializers.Serializer):
    name = serializers.CharField()
    strategy = serializers.CharField()
    weight = serializers.IntegerField()


class ExperimentInfoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    is_active = serializers.BooleanField()
    is_running = serializers.BooleanField()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    variants = ExperimentVariantSerializer(many=True)


class VariantReportSerializer(serializers.Serializer):
    name = serializers.CharField()
    strategy = serializers.CharField(allow_blank=True)
    visitors = serializers.IntegerField()
    visits = serializers.IntegerField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    impressions_clicked = serializers.IntegerField()
    ctr = _number(help_text="Clicks per impression.")
    ctr_ci = _interval()
    ctp = _number(help_text="Click-through probability: share of impressions clicked.")
    ctp_ci = _interval()
    clicks_per_visit = _number()
    clicks_per_visit_ci = _interval()
    seconds_per_visit = _number()
    seconds_per_visit_ci = _interval()
    timed_visits = serializers.IntegerField()


class ComparisonSerializer(serializers.Serializer):
    a = serializers.CharField(help_text="The baseline variant.")
    b = serializers.CharField(help_text="The variant compared with it.")
    metric = serializers.CharField()
    a_value = _number()
    b_value = _number()
    uplift = _number(help_text="b / a - 1.")
    uplift_ci = _interval()
    difference = _number(help_text="b - a.")
    difference_ci = _interval()
    z = _number()
    p_value = _number(help_text="Two-proportion z test.")
    significant = serializers.BooleanField()
    clicks_per_visit = serializers.DictField(required=False, help_text="Welch's t test.")
    seconds_per_visit = serializers.DictField(required=False, help_text="Welch's t test.")


class ScreeningSerializer(serializers.Serializer):
    max_visitors_per_address = serializers.IntegerField(
        help_text="An address behind more visitor ids than this is left out."
    )
    min_click_seconds = serializers.FloatField(
        help_text="A visitor who clicked a list sooner than this after it came is left out."
    )
    addresses = serializers.IntegerField(help_text="Addresses behind too many visitor ids.")
    fast_clickers = serializers.IntegerField(help_text="Visitors who clicked too fast.")
    implausible_dwellers = serializers.IntegerField(
        help_text="Visitors who claimed more time on a page than it had been open."
    )
    visitors = serializers.IntegerField(help_text="Visitors left out, whatever the rule.")
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    page_times = serializers.IntegerField()


class SampleRatioSerializer(serializers.Serializer):
    visitors = serializers.DictField(child=serializers.IntegerField(), help_text="Per variant.")
    expected_share = serializers.DictField(
        child=serializers.FloatField(), help_text="Per variant: its weight's share."
    )
    p_value = serializers.FloatField(allow_null=True, help_text="Chi-square goodness of fit.")
    mismatch = serializers.BooleanField(
        help_text="p < 0.001: visitors were lost or added; do not trust the comparisons."
    )


class MetricsReportSerializer(serializers.Serializer):
    experiment = ExperimentInfoSerializer(
        allow_null=True, help_text="The experiment reported on; null: all events."
    )
    variants = VariantReportSerializer(many=True)
    comparisons = ComparisonSerializer(many=True, help_text="Every pair of variants.")
    ranking = serializers.DictField(
        child=serializers.DictField(),
        help_text=(
            "Per variant: impressions_evaluated, items, "
            + ", ".join(key for key, _ in RANKING_COLUMNS)
            + ", calibration."
        ),
    )
    daily = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text="Per variant: one row per day (day, impressions, clicks, ctr, ctp).",
    )
    positions = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text="Per variant: clicks by position (position, impressions, clicks, ctr).",
    )
    screened = ScreeningSerializer(help_text="Traffic left out of every number above.")
    sample_ratio = SampleRatioSerializer(
        allow_null=True, help_text="Whether visitors split as the weights say; null: no experiment."
    )


# --- the view -------------------------------------------------------------------------------------


class MetricsView(ApiViewMixin, APIView):
    """The A/B experiment report (`experiments.selectors.experiment_report`), for staff.

    `?experiment=ID` picks an experiment, `?experiment=all` covers all events; without it, the
    active experiment (all events when none is active), as `manage.py experiment_report` does.
    """

    permission_classes = [IsAdminUser]

    @extend_schema(
        summary="The A/B experiment report (staff)",
        parameters=[
            OpenApiParameter(
                "experiment",
                str,
                pattern=r"^([0-9]+|[Aa][Ll][Ll]|[Nn][Oo][Nn][Ee])?$",
                description=(
                    "An experiment id, or `all` for every event. Left out: the active "
                    "experiment, or every event when none is active."
                ),
            )
        ],
        responses={
            200: MetricsReportSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No experiment with that id."),
        },
    )
    def get(self, request):
        choice = request.query_params.get("experiment", "")
        if choice == "":
            experiment = default_experiment()
        elif choice.lower() in {"all", "none"}:
            experiment = None
        elif re.fullmatch(r"[0-9]+", choice):
            if len(choice.lstrip("0")) > 18:  # no id is that large
                raise Http404("No such experiment.")
            experiment = get_object_or_404(Experiment, pk=int(choice))
        else:
            raise serializers.ValidationError(
                {"experiment": "An experiment id, or “all” for every event."}
            )
        return Response(experiment_report(experiment))
