"""The photographer's recommender controls: settings, extractor status, index runs."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from .features import KNOWN_EXTRACTORS, availability
from .models import ClusterRun, RecommenderSettings
from .services import rebuild_index


@admin.register(RecommenderSettings)
class RecommenderSettingsAdmin(admin.ModelAdmin):
    """One settings row: the changelist goes straight to it."""

    fieldsets = [
        (
            "Similarity",
            {"fields": ["style_weight", "cnn_weight", "content_weight", "neighbours_per_photo"]},
        ),
        ("CNN features", {"fields": ["cnn_enabled", "cnn_pca_components"]}),
        ("Status", {"fields": ["extractor_status", "index_status"]}),
    ]
    readonly_fields = ["extractor_status", "index_status"]
    change_form_template = "admin/recommender/recommendersettings/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        settings_row = RecommenderSettings.load()
        return redirect("admin:recommender_recommendersettings_change", settings_row.pk)

    def get_urls(self):
        urls = [
            path(
                "rebuild/",
                self.admin_site.admin_view(self.rebuild_view),
                name="recommender_rebuild",
            )
        ]
        return urls + super().get_urls()

    def rebuild_view(self, request):
        target = reverse("admin:recommender_recommendersettings_changelist")
        if request.method != "POST" or not self.has_change_permission(request):
            return HttpResponseRedirect(target)
        try:
            result = rebuild_index()
        except Exception as exc:  # shown to the photographer; details are in the log
            self.message_user(request, f"The index build failed: {exc}", messages.ERROR)
        else:
            level = messages.SUCCESS if result.run else messages.WARNING
            self.message_user(request, result.message, level)
        return HttpResponseRedirect(target)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.changed_data:
            from .services import request_rebuild

            request_rebuild()
            self.message_user(request, "The index will be rebuilt with the new settings.")

    @admin.display(description="Feature extractors")
    def extractor_status(self, obj) -> str:
        enabled = set(settings.STYLEFINDER_EXTRACTORS)
        rows = []
        for name in KNOWN_EXTRACTORS:
            if name not in enabled:
                rows.append((name, "off", "not in STYLEFINDER_EXTRACTORS"))
                continue
            ok, reason = availability(name)
            rows.append((name, "available" if ok else "unavailable", "" if ok else reason))
        return format_html(
            "<ul class='sf-status'>{}</ul>",
            format_html_join("", "<li><strong>{}</strong>: {} <small>{}</small></li>", rows),
        )

    @admin.display(description="Index")
    def index_status(self, obj) -> str:
        run = ClusterRun.objects.filter(is_active=True).first()
        active = (
            f"run {run.pk}: {run.n_photos} photos, built {run.finished_at:%Y-%m-%d %H:%M}"
            if run
            else "no index yet"
        )
        stale = (
            f"; photos changed since {obj.index_dirty_since:%Y-%m-%d %H:%M}, it will be rebuilt"
            if obj.index_dirty_since
            else ""
        )
        return f"{active}{stale}"


@admin.register(ClusterRun)
class ClusterRunAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "is_active", "n_photos", "blocks", "duration", "created_at"]
    list_filter = ["status", "is_active"]
    readonly_fields = [
        "status",
        "is_active",
        "n_photos",
        "config",
        "space_file",
        "duration_seconds",
        "error",
        "created_at",
        "finished_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="feature blocks")
    def blocks(self, run: ClusterRun) -> str:
        return ", ".join(run.config.get("blocks", []))

    @admin.display(description="duration")
    def duration(self, run: ClusterRun) -> str:
        return f"{run.duration_seconds:.2f} s" if run.duration_seconds is not None else "–"
