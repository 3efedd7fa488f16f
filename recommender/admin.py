"""The photographer's recommender controls: settings, extractor status, runs and albums."""

from __future__ import annotations

import logging
from collections import defaultdict

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import F, OuterRef, Prefetch, Subquery, Window
from django.db.models.functions import RowNumber
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from photos.models import Photo, Rendition

from . import services
from .charts import line_chart_svg, sweep_series
from .clustering import SILHOUETTE_TOLERANCE
from .extraction import extractor_availability
from .features import KNOWN_EXTRACTORS
from .models import Album, Cluster, ClusterRun, Membership, RecommenderSettings

logger = logging.getLogger(__name__)

CONTACT_SHEET_SIZE = 12  # thumbnails per cluster on the run page
ALBUM_SHEET_LIMIT = 200  # thumbnails on an album's page
THUMB_SPEC = "thumb"

# Every setting on the form; changing any of them changes the style space or how it is
# grouped, so the run must be redone.
RECLUSTER_FIELDS = (
    "look_weight",
    "style_weight",
    "cnn_weight",
    "content_weight",
    "copy_threshold",
    "neighbours_per_photo",
    "cnn_enabled",
    "cnn_pca_components",
    "algorithm",
    "cluster_count",
    "k_min",
    "k_max",
)
#: take effect at the next request, without a re-cluster
MODE_FIELDS = ("look_mode", "scene_mode", "same_scene_strip")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _fmt_wcss(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def _thumb_renditions() -> Prefetch:
    return Prefetch("renditions", queryset=Rendition.objects.filter(spec=THUMB_SPEC))


def _sheet_items(photos: list[tuple[Photo, float | None]]) -> list[dict]:
    """What the contact sheet template needs for each photo (no queries: renditions prefetched)."""
    return [
        {
            "photo": photo,
            "distance": distance,
            "thumb_url": photo.rendition_url(THUMB_SPEC),
            "change_url": reverse("admin:photos_photo_change", args=[photo.pk]),
        }
        for photo, distance in photos
    ]


# --- Settings ---------------------------------------------------------------------------------


class RecommenderSettingsForm(forms.ModelForm):
    class Meta:
        model = RecommenderSettings
        fields = [*RECLUSTER_FIELDS, *MODE_FIELDS]
        help_texts = {
            "cluster_count": "Number of albums (at least 2); empty = automatic: the largest k "
            f"between k min and k max whose silhouette is within {SILHOUETTE_TOLERANCE:.0%} of "
            "the best.",
            "k_min": "Automatic k: smallest k tried (at least 2).",
            "k_max": "Automatic k: largest k tried (at least k min); empty = grows with the "
            "gallery: √photos, between 4 and 60.",
        }
        labels = {
            "cnn_weight": "CNN weight",
            "cnn_enabled": "CNN enabled",
            "cnn_pca_components": "CNN PCA components",
            "cluster_count": "Number of albums (k)",
            "k_min": "k min",
            "k_max": "k max",
        }

    def clean_k_min(self):
        k_min = self.cleaned_data.get("k_min")
        if k_min is not None and k_min < 2:
            raise forms.ValidationError("k min must be at least 2: one album is not a grouping.")
        return k_min

    def clean_cluster_count(self):
        count = self.cleaned_data.get("cluster_count")
        if count is not None and count < 2:
            raise forms.ValidationError(
                "Use at least 2 albums, or leave the field empty for automatic."
            )
        return count

    def clean(self):
        cleaned = super().clean()
        k_min, k_max = cleaned.get("k_min"), cleaned.get("k_max")
        if k_min is not None and k_max is not None and k_max < k_min:
            self.add_error("k_max", f"k max must be at least k min ({k_min}).")
        return cleaned


def _number(value) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _label(key) -> str:
    return str(key).replace("_", " ")


def _summary(value, depth: int = 0) -> str:
    """A JSON value of a run's config as one line of plain text (escaped where it is shown)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        if len(value) == 2 and all(_number(part) is not None for part in value):
            return f"{_summary(value[0])}–{_summary(value[1])}"  # a range, e.g. [0, 512]
        if depth >= 2:
            return f"{len(value)} items"
        return ", ".join(_summary(part, depth + 1) for part in value)
    if isinstance(value, dict):
        if not value:
            return "none"
        if depth >= 2:
            return f"{len(value)} settings"
        return "; ".join(
            f"{_label(key)} {_summary(value[key], depth + 1)}" for key in sorted(value)
        )
    text = str(value)
    return text if len(text) <= 80 else f"{text[:40]}…{text[-12:]}"  # e.g. a long signature


def _config_value(value) -> str:
    """A top-level config value: a nested dictionary becomes a definition list of its own."""
    if isinstance(value, dict) and value:
        return format_html(
            '<dl class="sf-config-nested">{}</dl>',
            format_html_join(
                "",
                "<dt>{}</dt><dd>{}</dd>",
                ((_label(key), _summary(value[key], 1)) for key in sorted(value)),
            ),
        )
    return _summary(value)


def _automatic_k(run: ClusterRun) -> bool:
    """Whether the run chose k itself (a fixed-k run's sweep holds just that k)."""
    clustering = (run.config or {}).get("clustering", {})
    if "k" in clustering:
        return clustering["k"] is None
    return len(run.sweep or []) > 1


@admin.register(RecommenderSettings)
class RecommenderSettingsAdmin(admin.ModelAdmin):
    """One settings row: the changelist goes straight to it."""

    form = RecommenderSettingsForm
    fieldsets = [
        (
            "Similarity",
            {
                "fields": [
                    "look_weight",
                    "style_weight",
                    "cnn_weight",
                    "content_weight",
                    "copy_threshold",
                    "neighbours_per_photo",
                ]
            },
        ),
        (
            "What similar means (modes)",
            {
                "fields": list(MODE_FIELDS),
                "description": "The default list (look first, subject second, as weighted above) "
                "is always offered and is the one the A/B experiments measure. The look and scene "
                "modes answer ?mode=look and ?mode=scene on the API and the widget (data-mode) "
                "and are choices on /similar/. Changes apply at once, without a re-cluster.",
            },
        ),
        ("CNN features", {"fields": ["cnn_enabled", "cnn_pca_components"]}),
        (
            "Albums (clustering)",
            {
                "fields": ["algorithm", "cluster_count", ("k_min", "k_max")],
                "description": "Photos are grouped by style into albums at every re-cluster. "
                "Renaming and hiding albums is done under Albums.",
            },
        ),
        ("Status", {"fields": ["extractor_status", "active_run_status", "stale_status"]}),
    ]
    readonly_fields = ["extractor_status", "active_run_status", "stale_status"]
    change_form_template = "admin/recommender/recommendersettings/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        settings_row = RecommenderSettings.load()
        return redirect("admin:recommender_recommendersettings_change", settings_row.pk)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and str(object_id) == "1":
            obj = RecommenderSettings.load()  # the row is made on first use
        return obj

    def get_urls(self):
        view = self.admin_site.admin_view(self.recluster_view)
        urls = [
            path("recluster/", view, name="recommender_recluster"),
            # The old name of the same button, kept for bookmarks and older templates.
            path("rebuild/", view, name="recommender_rebuild"),
        ]
        return urls + super().get_urls()

    def recluster_view(self, request):
        target = reverse("admin:recommender_recommendersettings_changelist")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            self.message_user(request, "You may not re-cluster.", messages.ERROR)
            return HttpResponseRedirect(target)
        try:
            result = services.recluster()
        except Exception as exc:  # shown to the photographer; details are in the log
            logger.exception("Re-cluster from the admin failed")
            self.message_user(
                request, f"The re-cluster failed: {type(exc).__name__}: {exc}", messages.ERROR
            )
            return HttpResponseRedirect(target)
        run = getattr(result, "run", None)
        message = getattr(result, "message", "") or "Re-cluster finished."
        if run is None:
            level = messages.WARNING
        elif run.status == ClusterRun.Status.FAILED:
            level = messages.ERROR
        else:
            level = messages.SUCCESS
        if run is not None and run.pk:
            url = reverse("admin:recommender_clusterrun_change", args=[run.pk])
            self.message_user(
                request, format_html('{} <a href="{}">View run {}</a>', message, url, run.pk), level
            )
        else:
            self.message_user(request, message, level)
        return HttpResponseRedirect(target)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = set(RECLUSTER_FIELDS).intersection(form.changed_data)
        if not changed:
            return
        try:
            services.request_recluster()
            services.settle()  # the embedded default re-clusters now, before answering
        except Exception as exc:
            logger.exception("Could not request a re-cluster after a settings change")
            self.message_user(
                request,
                f"Settings saved, but the re-cluster could not be queued ({exc}). "
                "Use “Re-cluster now”.",
                messages.WARNING,
            )
        else:
            self.message_user(
                request,
                "A re-cluster has been requested for the new settings "
                f"({', '.join(sorted(changed))}).",
            )

    @admin.display(description="Feature extractors")
    def extractor_status(self, obj) -> str:
        enabled = set(settings.STYLEFINDER_EXTRACTORS)
        rows = []
        for name in KNOWN_EXTRACTORS:
            if name not in enabled:
                rows.append((name, "off", "not in STYLEFINDER_EXTRACTORS"))
                continue
            ok, reason = extractor_availability(name)
            rows.append((name, "available" if ok else "unavailable", "" if ok else reason))
        return format_html(
            "<ul class='sf-status'>{}</ul>",
            format_html_join("", "<li><strong>{}</strong>: {} <small>{}</small></li>", rows),
        )

    @admin.display(description="Active run")
    def active_run_status(self, obj) -> str:
        from .incremental import refit_budget

        run = ClusterRun.objects.filter(is_active=True).first()
        if run is None:
            return "No active run yet: use “Re-cluster now” once photos are processed."
        url = reverse("admin:recommender_clusterrun_change", args=[run.pk])
        built = f"{run.finished_at:%Y-%m-%d %H:%M}" if run.finished_at else "–"
        choice = "automatic" if _automatic_k(run) else "fixed"
        return format_html(
            '<a href="{}">Run {}</a>: {} photos{}, k = {} ({}, {}), silhouette {}, WCSS {}, '
            "stability {}; built {}",
            url,
            run.pk,
            run.n_photos,
            f" + {run.added_photos} joined since (full re-fit after {refit_budget(run)})"
            if run.added_photos
            else "",
            run.k if run.k is not None else "–",
            choice,
            run.algorithm or "–",
            _fmt(run.silhouette),
            _fmt_wcss(run.wcss),
            _fmt(run.stability),
            built,
        )

    @admin.display(description="Index stale since")
    def stale_status(self, obj) -> str:
        if obj is None or obj.index_dirty_since is None:
            return "Up to date: nothing changed since the last run."
        return (
            f"{obj.index_dirty_since:%Y-%m-%d %H:%M} — photos or settings changed since; "
            "a re-cluster is pending."
        )


# --- Runs -------------------------------------------------------------------------------------


@admin.register(ClusterRun)
class ClusterRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "active",
        "n_photos",
        "added_photos",
        "k",
        "algorithm",
        "silhouette_display",
        "wcss_display",
        "stability_display",
        "duration",
        "created",
    ]
    list_filter = ["status", "is_active", "algorithm"]
    readonly_fields = [
        "status",
        "is_active",
        "n_photos",
        "added_photos",
        "k",
        "k_choice",
        "algorithm",
        "silhouette_display",
        "wcss_display",
        "stability_display",
        "duration",
        "created_at",
        "finished_at",
        "sweep_display",
        "config_display",
        "index_file",
        "error",
    ]
    change_form_template = "admin/recommender/clusterrun/change_form.html"

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                "Summary",
                {
                    "fields": [
                        ("status", "is_active"),
                        ("n_photos", "added_photos", "k", "k_choice", "algorithm"),
                        ("silhouette_display", "wcss_display", "stability_display"),
                        ("created_at", "finished_at", "duration"),
                    ]
                },
            ),
            ("Configuration", {"fields": ["config_display", "index_file"]}),
        ]
        if obj is not None and obj.sweep:
            fieldsets.insert(1, ("Sweep over k", {"fields": ["sweep_display"]}))
        if obj is not None and obj.error:
            fieldsets.insert(1, ("Error", {"fields": ["error"]}))
        return fieldsets

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # The active run is what the site serves; it is replaced by re-clustering, not deleted.
        if obj is not None and obj.is_active:
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        run = self.get_object(request, object_id)
        if run is not None:
            extra_context.update(run_dashboard_context(run))
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active(self, run: ClusterRun) -> bool:
        return run.is_active

    @admin.display(description="created", ordering="created_at")
    def created(self, run: ClusterRun) -> str:
        return f"{timezone.localtime(run.created_at):%Y-%m-%d %H:%M}"

    @admin.display(description="silhouette", ordering="silhouette")
    def silhouette_display(self, run: ClusterRun) -> str:
        return _fmt(run.silhouette)

    @admin.display(description="WCSS", ordering="wcss")
    def wcss_display(self, run: ClusterRun) -> str:
        return _fmt_wcss(run.wcss)

    @admin.display(description="stability", ordering="stability")
    def stability_display(self, run: ClusterRun) -> str:
        return _fmt(run.stability, 2)

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, run: ClusterRun) -> str:
        return f"{run.duration_seconds:.2f} s" if run.duration_seconds is not None else "–"

    @admin.display(description="how k was chosen")
    def k_choice(self, run: ClusterRun) -> str:
        if _automatic_k(run):
            ks = [entry.get("k") for entry in run.sweep if isinstance(entry, dict)]
            ks = [k for k in ks if k is not None]
            if ks:
                return (
                    f"automatic: the largest k in {min(ks)}…{max(ks)} whose silhouette is within "
                    f"{SILHOUETTE_TOLERANCE:.0%} of the best"
                )
            return "automatic"
        return "fixed (from the settings)" if run.k is not None else "–"

    @admin.display(description="index file")
    def index_file(self, run: ClusterRun) -> str:
        """The name only: index files are private (no URL), kept out of the public media."""
        return run.space_file.name or "–"

    @admin.display(description="sweep over k")
    def sweep_display(self, run: ClusterRun) -> str:
        """The k tried, each with its silhouette and WCSS; the k the run used is marked."""
        rows = [entry for entry in (run.sweep or []) if isinstance(entry, dict)]
        if not rows:
            return "–"
        body = format_html_join(
            "",
            '<tr{}><td class="sf-num">{}</td><td class="sf-num">{}</td>'
            '<td class="sf-num">{}</td></tr>',
            (
                (
                    format_html(' class="sf-chosen" title="{}"', "the k this run used")
                    if run.k is not None and entry.get("k") == run.k
                    else "",
                    _summary(entry.get("k")),
                    _fmt(_number(entry.get("silhouette"))),
                    _fmt_wcss(_number(entry.get("wcss"))),
                )
                for entry in rows
            ),
        )
        return format_html(
            '<table class="sf-sweep"><thead><tr><th scope="col">k</th>'
            '<th scope="col">silhouette</th><th scope="col">WCSS</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="configuration")
    def config_display(self, run: ClusterRun) -> str:
        """The run's settings as a definition list; nested values are summarised in a line."""
        config = run.config if isinstance(run.config, dict) else {}
        if not config:
            return "–"
        return format_html(
            '<dl class="sf-config">{}</dl>',
            format_html_join(
                "",
                "<dt>{}</dt><dd>{}</dd>",
                ((_label(key), _config_value(config[key])) for key in sorted(config)),
            ),
        )


def run_dashboard_context(run: ClusterRun) -> dict:
    """Charts and contact sheets for one run (a fixed number of queries, whatever its size)."""
    silhouette = sweep_series(run.sweep, "silhouette")
    wcss = sweep_series(run.sweep, "wcss")
    has_sweep = bool(silhouette or wcss)
    charts = []
    if has_sweep:
        label = f"chosen k = {run.k}" if run.k is not None else None
        charts = [
            line_chart_svg(
                silhouette,
                title="Silhouette by number of albums (higher is better)",
                x_label="k",
                y_label="silhouette",
                highlight_x=run.k,
                highlight_label=label,
            ),
            line_chart_svg(
                wcss,
                title="Within-cluster sum of squares (look for the elbow)",
                x_label="k",
                y_label="WCSS",
                highlight_x=run.k,
                highlight_label=label,
            ),
        ]
    return {
        "sf_charts": charts,
        "sf_has_sweep": has_sweep,
        "sf_clusters": cluster_sheets(run),
        "sf_sheet_size": CONTACT_SHEET_SIZE,
    }


def cluster_sheets(run: ClusterRun, per_cluster: int = CONTACT_SHEET_SIZE) -> list[dict]:
    """Each cluster of `run` with its album and the `per_cluster` photos nearest its centroid.

    Three queries: clusters with albums, the top memberships (a window function ranks them per
    cluster in the database) with their photos, and those photos' thumbnails.
    """
    clusters = list(run.clusters.select_related("album").order_by("label"))
    nearest = (
        Membership.objects.filter(run=run)
        .annotate(
            place=Window(
                RowNumber(), partition_by=[F("cluster_id")], order_by=[F("distance").asc()]
            )
        )
        .filter(place__lte=per_cluster)
        .select_related("photo")
        .prefetch_related(Prefetch("photo__renditions", queryset=_thumb_renditions().queryset))
        .order_by("cluster_id", "distance")
    )
    by_cluster: dict[int, list[tuple[Photo, float]]] = defaultdict(list)
    for membership in nearest:
        by_cluster[membership.cluster_id].append((membership.photo, membership.distance))
    sheets = []
    for cluster in clusters:
        album = cluster.album
        sheets.append(
            {
                "cluster": cluster,
                "album": album,
                "album_url": (
                    reverse("admin:recommender_album_change", args=[album.pk]) if album else None
                ),
                "attributes": [str(a) for a in (cluster.attributes or [])],
                "items": _sheet_items(by_cluster.get(cluster.pk, [])),
            }
        )
    return sheets


# --- Albums -----------------------------------------------------------------------------------


class InActiveRunFilter(admin.SimpleListFilter):
    title = "in the active run"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No (empty now)")]

    def queryset(self, request, queryset):
        active = Cluster.objects.filter(run__is_active=True).values("album_id")
        if self.value() == "yes":
            return queryset.filter(pk__in=active)
        if self.value() == "no":
            return queryset.exclude(pk__in=active)
        return queryset


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = ["album_name", "auto_name", "title", "hidden", "active_size", "cover_thumb"]
    list_display_links = ["album_name"]
    list_editable = ["title", "hidden"]
    list_filter = ["hidden", InActiveRunFilter]
    search_fields = ["title", "auto_name"]
    fields = ["title", "hidden", "auto_name", "active_size", "created_at", "updated_at"]
    readonly_fields = ["auto_name", "active_size", "created_at", "updated_at"]
    change_form_template = "admin/recommender/album/change_form.html"

    def get_queryset(self, request):
        active_clusters = Cluster.objects.filter(album=OuterRef("pk"), run__is_active=True)
        return (
            super()
            .get_queryset(request)
            .annotate(active_size_value=Subquery(active_clusters.values("size")[:1]))
            .prefetch_related(
                Prefetch(
                    "clusters",
                    queryset=Cluster.objects.filter(run__is_active=True)
                    .select_related("cover")
                    .prefetch_related(
                        Prefetch("cover__renditions", queryset=_thumb_renditions().queryset)
                    ),
                    to_attr="active_clusters",
                )
            )
        )

    def has_add_permission(self, request) -> bool:
        return False  # albums are made by re-clustering

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # hide an album instead: its identity carries over to the next run

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("widgets", {"title": forms.TextInput(attrs={"size": 24})})
        return super().get_changelist_form(request, **kwargs)

    def view_on_site(self, album: Album):
        try:
            return album.get_absolute_url()
        except NoReverseMatch:
            return None

    @admin.display(description="name", ordering="title")
    def album_name(self, album: Album) -> str:
        return album.name

    @admin.display(description="photos now", ordering="active_size_value")
    def active_size(self, album: Album) -> str:
        size = getattr(album, "active_size_value", None)
        return "–" if size is None else str(size)

    @admin.display(description="cover")
    def cover_thumb(self, album: Album) -> str:
        clusters = getattr(album, "active_clusters", [])
        cover = clusters[0].cover if clusters else None
        if cover is None:
            return "–"
        url = cover.rendition_url(THUMB_SPEC)
        if not url:
            return "no preview"
        return format_html(
            '<img src="{}" alt="{}" loading="lazy" class="sf-cover" '
            'style="max-width:80px;max-height:60px;display:block;border-radius:2px">',
            url,
            cover.alt_text,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        album = self.get_object(request, object_id)
        if album is not None:
            extra_context.update(album_sheet_context(album))
        return super().change_view(request, object_id, form_url, extra_context)


def album_sheet_context(album: Album, limit: int = ALBUM_SHEET_LIMIT) -> dict:
    """The album's photos in the active run, nearest the centroid first (two queries)."""
    memberships = list(
        Membership.objects.filter(cluster__album=album, run__is_active=True)
        .select_related("photo")
        .prefetch_related(Prefetch("photo__renditions", queryset=_thumb_renditions().queryset))
        .order_by("distance")[: limit + 1]
    )
    shown = memberships[:limit]
    return {
        "sf_album_items": _sheet_items([(m.photo, m.distance) for m in shown]),
        "sf_album_more": len(memberships) > limit,
    }
