"""A/B experiments in the admin: experiments with their variants, a report dashboard per
experiment (and one over all events), and read-only event tables."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from .charts import ctr_by_day_chart, position_curve_chart
from .formatting import (
    CONFIDENCE_LABEL,
    RANKING_COLUMNS,
    format_comparison,
    format_ranking,
    format_variant,
    screening_notes,
)
from .models import Click, Experiment, Impression, PageTime, Variant
from .selectors import experiment_report

REPORT_TEMPLATE = "admin/experiments/experiment/report.html"


# --- Experiments ------------------------------------------------------------------------------


class VariantForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = ["name", "strategy", "weight"]

    def clean_weight(self):
        weight = self.cleaned_data.get("weight")
        if weight is not None and not weight > 0:
            raise forms.ValidationError("The weight must be greater than 0.")
        return weight


class VariantFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("name")
        ]
        if not kept:
            raise forms.ValidationError("An experiment needs at least one variant.")
        names = [form.cleaned_data["name"] for form in kept]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise forms.ValidationError(
                f"Variant names must differ within an experiment: {', '.join(duplicates)}."
            )


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantForm
    formset = VariantFormSet
    fields = ["name", "strategy", "weight"]
    extra = 0
    min_num = 1


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ["name", "description", "is_active", "starts_at", "ends_at"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("is_active"):
            others = Experiment.objects.filter(is_active=True)
            if self.instance.pk:
                others = others.exclude(pk=self.instance.pk)
            other = others.first()
            if other is not None:
                # On the field, so Django's own check of the constraint is skipped.
                self.add_error(
                    "is_active",
                    f"Only one experiment can be active at a time, and “{other.name}” is. "
                    "Deactivate it first (or use the “Make active” action, which does both).",
                )
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The end must be after the start.")
        return cleaned


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    inlines = [VariantInline]
    list_display = [
        "name",
        "is_active",
        "running",
        "starts_at",
        "ends_at",
        "variant_list",
        "impression_count",
        "report_link",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "is_active", ("starts_at", "ends_at")]
    actions = ["make_active", "deactivate"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("variants")
            .annotate(impression_total=Count("impressions", distinct=True))
        )

    def get_urls(self):
        return [
            path(
                "report/",
                self.admin_site.admin_view(self.report_view),
                name="experiments_experiment_report_all",
            ),
            path(
                "<path:object_id>/report/",
                self.admin_site.admin_view(self.report_view),
                name="experiments_experiment_report",
            ),
        ] + super().get_urls()

    @admin.display(description="running", boolean=True)
    def running(self, experiment: Experiment) -> bool:
        return experiment.is_running(timezone.now())

    @admin.display(description="variants")
    def variant_list(self, experiment: Experiment) -> str:
        variants = list(experiment.variants.all())
        if not variants:
            return "–"
        return ", ".join(f"{v.name} ({v.strategy}, ×{v.weight:g})" for v in variants)

    @admin.display(description="impressions", ordering="impression_total")
    def impression_count(self, experiment: Experiment) -> int:
        return getattr(experiment, "impression_total", 0)

    @admin.display(description="report")
    def report_link(self, experiment: Experiment) -> str:
        url = reverse("admin:experiments_experiment_report", args=[experiment.pk])
        return format_html('<a href="{}">Report</a>', url)

    @admin.action(description="Make the selected experiment active (deactivates the others)")
    def make_active(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one experiment.", messages.ERROR)
            return
        experiment = queryset.get()
        with transaction.atomic():
            Experiment.objects.filter(is_active=True).exclude(pk=experiment.pk).update(
                is_active=False
            )
            Experiment.objects.filter(pk=experiment.pk).update(is_active=True)
        self.message_user(request, f"“{experiment.name}” is now the active experiment.")

    @admin.action(description="Deactivate the selected experiments")
    def deactivate(self, request, queryset):
        count = queryset.filter(is_active=True).update(is_active=False)
        self.message_user(request, f"{count} experiment{'s' if count != 1 else ''} deactivated.")

    def report_view(self, request, object_id=None):
        experiment = None
        if object_id is not None:
            experiment = self.get_object(request, unquote(object_id))
            if experiment is None:
                return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        report = experiment_report(experiment)
        title = f"Report: {experiment.name}" if experiment else "Report: all events"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "original": experiment,
            "has_view_permission": True,
            **dashboard_context(report),
        }
        return TemplateResponse(request, REPORT_TEMPLATE, context)


def dashboard_context(report: dict) -> dict:
    """What the dashboard template shows: the report's numbers, formatted, and the charts."""
    variants = [
        {
            "name": v["name"],
            "strategy": v["strategy"],
            "visitors": v["visitors"],
            "visits": v["visits"],
            "impressions": v["impressions"],
            "clicks": v["clicks"],
            **format_variant(v),
        }
        for v in report["variants"]
    ]
    comparisons = []
    for c in report["comparisons"]:
        formatted = format_comparison(c)
        comparisons.append(
            {
                "a": c["a"],
                "b": c["b"],
                **formatted,
                "business": list(formatted["business"].values()),
                "significant": c.get("significant", False),
            }
        )
    ranking = [
        {
            "name": name,
            "evaluated": metrics.get("impressions_evaluated", 0),
            "values": format_ranking(metrics),
        }
        for name, metrics in report["ranking"].items()
    ]
    return {
        "report": report,
        "sf_confidence": CONFIDENCE_LABEL,
        "sf_variants": variants,
        "sf_comparisons": comparisons,
        "sf_ranking_columns": [label for _, label in RANKING_COLUMNS],
        "sf_ranking": ranking,
        "sf_screening": screening_notes(report),
        "sf_has_events": any(v["impressions"] or v["visits"] for v in report["variants"]),
        "sf_daily_chart": ctr_by_day_chart(report["daily"]),
        "sf_position_chart": position_curve_chart(report["positions"]),
    }


# --- Events (read-only) -----------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Impression)
class ImpressionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "variant", "strategy", "source", "source_photo_id", "visit_id"]
    list_filter = ["experiment", "variant", "source"]
    date_hierarchy = "created_at"
    show_full_result_count = False


class ClickPaceFilter(admin.SimpleListFilter):
    """Clicks that came sooner after their list than a person can click: the report leaves
    their visitors out."""

    title = "pace"
    parameter_name = "pace"

    def lookups(self, request, model_admin):
        return [("fast", "Faster than a person"), ("person", "A person's pace")]

    def queryset(self, request, queryset):
        limit = int(settings.STYLEFINDER_AB_MIN_CLICK_MS) / 1000
        if self.value() == "fast":
            return queryset.filter(seconds_to_click__lt=limit)
        if self.value() == "person":
            return queryset.filter(seconds_to_click__gte=limit)
        return queryset


@admin.register(Click)
class ClickAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "variant",
        "position",
        "target_id",
        "impression_id",
        "visit_id",
        "seconds_to_click",
    ]
    list_filter = ["variant", ClickPaceFilter]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(PageTime)
class PageTimeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "variant", "path", "seconds", "implausible", "visit_id"]
    list_filter = ["experiment", "variant", "implausible"]
    date_hierarchy = "created_at"
    show_full_result_count = False
