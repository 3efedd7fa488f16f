"""Admin of the photo library.

Photos only get in through `ingest_photo`: the standard "Add photo" page is replaced by an upload
page (many files and zip archives at once) that reports what was imported, what was already in
the library and what was rejected, and why.
"""

from __future__ import annotations

import logging
import os
from collections import Counter

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import ngettext

from .archives import import_zip, looks_like_zip
from .forms import PhotoUploadForm
from .models import OrphanedFile, Photo, Rendition
from .queueing import NOT_QUEUED
from .services import ImportReport, reprocess_photos, set_published
from .signals import announce_settled
from .storage import purge_orphans

logger = logging.getLogger(__name__)

STATUS_COLOURS = {
    Photo.Status.PENDING: "#b36b00",
    Photo.Status.READY: "#2e7d32",
    Photo.Status.FAILED: "#ba2121",
}


def _thumbnail_html(photo: Photo, max_width: int = 80, max_height: int = 60) -> str:
    url = photo.rendition_url("thumb")
    if url:
        return format_html(
            '<img src="{}" alt="{}" loading="lazy" class="stylefinder-thumb" '
            'style="max-width:{}px;max-height:{}px;display:block;border-radius:2px">',
            url,
            photo.alt_text,
            max_width,
            max_height,
        )
    label = {
        Photo.Status.PENDING: "not queued" if photo.error == NOT_QUEUED else "processing…",
        Photo.Status.FAILED: "no preview",
    }.get(photo.status, "no preview")
    return format_html(
        '<span class="stylefinder-thumb-placeholder" style="display:inline-block;width:{}px;'
        "height:{}px;line-height:{}px;text-align:center;font-size:11px;color:#777;"
        'background:#f2f2f2;border-radius:2px">{}</span>',
        max_width,
        max_height,
        max_height,
        label,
    )


def _short_date(moment) -> str:
    """A date in a list column: 2024-05-31, with the time in its tooltip."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        f"{local:%Y-%m-%d %H:%M}",
        f"{local:%Y-%m-%d}",
    )


class RenditionInline(admin.TabularInline):
    """The web copies of a photo, for information only (they are made by processing)."""

    model = Rendition
    fields = ("spec", "size", "file_link", "created_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="size")
    def size(self, rendition: Rendition) -> str:
        return f"{rendition.width}×{rendition.height}"

    @admin.display(description="file")
    def file_link(self, rendition: Rendition) -> str:
        if not rendition.file:
            return "—"
        return format_html('<a href="{}">{}</a>', rendition.file.url, rendition.file.name)


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    # Fits a 1280-px screen beside the filters (static/admin-extra/photo-list.css): the file name
    # and the size go under the title, the dates are short.
    list_display = (
        "thumbnail",
        "title_display",
        "status_display",
        "published",
        "captured",
        "added",
    )
    list_display_links = ("thumbnail", "title_display")
    list_editable = ("published",)
    list_filter = ("status", "published", "camera_model", "created_at")
    search_fields = (
        "title",
        "description",
        "original_filename",
        "camera_make",
        "camera_model",
        "lens",
        "^sha256",
    )
    search_help_text = "Title, description, file name, camera, lens or the start of the SHA-256."
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ("reprocess_selected", "publish_selected", "unpublish_selected")
    inlines = (RenditionInline,)

    readonly_fields = (
        "preview",
        "status_display",
        "error_display",
        "processed_at",
        "original_filename",
        "original_link",
        "image_format",
        "dimensions",
        "file_size_display",
        "sha256",
        "created_at",
        "updated_at",
        "taken_at",
        "camera_make",
        "camera_model",
        "lens",
        "focal_length_mm",
        "aperture",
        "exposure_time",
        "iso",
    )
    _photo_fieldset = (None, {"fields": ("title", "description", "published")})
    _preview_fieldset = ("Preview", {"fields": ("preview",)})
    _status_fieldset = (
        "Processing",
        {
            "fields": ("status_display", "error_display", "processed_at"),
            "description": "Failed photos can be processed again with the “Re-process” action.",
        },
    )
    _file_fieldset = (
        "File",
        {
            "fields": (
                "original_filename",
                "original_link",
                "image_format",
                "dimensions",
                "file_size_display",
                "sha256",
                "created_at",
                "updated_at",
            )
        },
    )
    _exif_fieldset = (
        "Capture (EXIF)",
        {
            "fields": (
                "taken_at",
                "camera_make",
                "camera_model",
                "lens",
                "focal_length_mm",
                "aperture",
                "exposure_time",
                "iso",
            )
        },
    )

    # --- Queryset, fieldsets ------------------------------------------------------------------
    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("renditions")

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.status == Photo.Status.FAILED:
            # What went wrong comes first on a failed photo.
            return [
                self._status_fieldset,
                self._photo_fieldset,
                self._preview_fieldset,
                self._file_fieldset,
                self._exif_fieldset,
            ]
        return [
            self._photo_fieldset,
            self._preview_fieldset,
            self._status_fieldset,
            self._file_fieldset,
            self._exif_fieldset,
        ]

    # --- Columns and read-only fields ---------------------------------------------------------
    @admin.display(description="preview")
    def thumbnail(self, photo: Photo) -> str:
        return _thumbnail_html(photo, max_width=56, max_height=42)

    @admin.display(description="title", ordering="title")
    def title_display(self, photo: Photo) -> str:
        size = f"{photo.width}×{photo.height}" if photo.width and photo.height else ""
        return format_html(
            '<span class="sf-photo-title" title="{}">{}</span>'
            '<span class="sf-photo-file">{}{}</span>',
            photo.display_title,
            photo.display_title,
            photo.original_filename,
            f" · {size}" if size else "",
        )

    @admin.display(description="captured", ordering="taken_at")
    def captured(self, photo: Photo) -> str:
        return _short_date(photo.taken_at)

    @admin.display(description="added", ordering="created_at")
    def added(self, photo: Photo) -> str:
        return _short_date(photo.created_at)

    @admin.display(description="status", ordering="status")
    def status_display(self, photo: Photo) -> str:
        colour = STATUS_COLOURS.get(photo.status, "inherit")
        label = photo.get_status_display()
        if photo.error and photo.status != Photo.Status.READY:  # why it failed, or still waits
            return format_html(
                '<strong style="color:{}" title="{}">{}</strong>'
                '<br><small class="stylefinder-error" title="{}">{}</small>',
                colour,
                photo.error,
                label,
                photo.error,
                Truncator(photo.error).chars(80),
            )
        return format_html('<strong style="color:{}">{}</strong>', colour, label)

    @admin.display(description="error")
    def error_display(self, photo: Photo) -> str:
        if not photo.error:
            return "—"
        return format_html(
            '<pre class="stylefinder-error" style="white-space:pre-wrap;color:#ba2121;'
            'margin:0">{}</pre>',
            photo.error,
        )

    @admin.display(description="dimensions", ordering="width")
    def dimensions(self, photo: Photo) -> str:
        if not photo.width or not photo.height:
            return "—"
        return f"{photo.width}×{photo.height}"

    @admin.display(description="file size", ordering="file_size")
    def file_size_display(self, photo: Photo) -> str:
        return filesizeformat(photo.file_size)

    @admin.display(description="original")
    def original_link(self, photo: Photo) -> str:
        if not photo.original:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Download the original</a>',
            photo.original.url,
        )

    @admin.display(description="preview")
    def preview(self, photo: Photo) -> str:
        url = (
            photo.rendition_url("medium")
            or photo.rendition_url("display")
            or photo.rendition_url("thumb")
        )
        if not url:
            return _thumbnail_html(photo, max_width=240, max_height=160)
        return format_html(
            '<img src="{}" alt="{}" style="max-width:100%;max-height:480px;display:block">',
            url,
            photo.alt_text,
        )

    # --- Edits: the writer pays for the re-cluster in the embedded default ---------------------
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        announce_settled()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        announce_settled()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        announce_settled()

    # --- Actions ------------------------------------------------------------------------------
    @admin.action(description="Re-process selected photos", permissions=["change"])
    def reprocess_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        count = reprocess_photos(queryset)
        statuses = Counter(Photo.objects.filter(pk__in=ids).values_list("status", flat=True))
        summary = ", ".join(
            f"{statuses[status]} {status.label.lower()}"
            for status in Photo.Status
            if statuses.get(status)
        )
        self.message_user(
            request,
            ngettext(
                "Re-processing requested for %(count)d photo (now: %(summary)s).",
                "Re-processing requested for %(count)d photos (now: %(summary)s).",
                count,
            )
            % {"count": count, "summary": summary or "nothing"},
            messages.WARNING if statuses.get(Photo.Status.FAILED) else messages.SUCCESS,
        )

    @admin.action(description="Publish selected photos", permissions=["change"])
    def publish_selected(self, request, queryset):
        count = set_published(queryset, True)
        self.message_user(
            request,
            ngettext("Published %(count)d photo.", "Published %(count)d photos.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description="Unpublish (hide) selected photos", permissions=["change"])
    def unpublish_selected(self, request, queryset):
        count = set_published(queryset, False)
        self.message_user(
            request,
            ngettext("Unpublished %(count)d photo.", "Unpublished %(count)d photos.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    # --- Views --------------------------------------------------------------------------------
    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="{}_{}_upload".format(*info),
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        """Photos are added through the upload page only (it runs the ingest checks)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:photos_photo_upload"))

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            "failed_count": Photo.objects.filter(status=Photo.Status.FAILED).count(),
            **(extra_context or {}),
        }
        started = timezone.now()
        response = super().changelist_view(request, extra_context=extra_context)
        self._warn_about_orphans(request, started)  # after the "delete selected" action
        return response

    def delete_view(self, request, object_id, extra_context=None):
        started = timezone.now()
        response = super().delete_view(request, object_id, extra_context)
        self._warn_about_orphans(request, started)
        return response

    def _warn_about_orphans(self, request, since) -> None:
        """Deleted rows whose files the storage did not delete (it was down): say so."""
        if request.method != "POST":
            return
        count = OrphanedFile.objects.filter(created_at__gte=since).count()
        if count:
            self.message_user(
                request,
                format_html(
                    "The media storage could not delete {} file(s) of the deleted photos (see "
                    'the log); they are listed under <a href="{}">Orphaned files</a> to be '
                    "deleted again once the storage is back.",
                    count,
                    reverse("admin:photos_orphanedfile_changelist"),
                ),
                messages.WARNING,
            )

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = PhotoUploadForm(request.POST, request.FILES)
            if form.is_valid():
                report = self._import_uploads(
                    request, form.cleaned_data["files"], form.cleaned_data["published"]
                )
                announce_settled()  # the embedded default re-clusters before answering
                return self._upload_result(request, report)
        else:
            form = PhotoUploadForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Upload photos",
            "form": form,
            "max_upload_bytes": settings.STYLEFINDER_MAX_UPLOAD_BYTES,
            "max_zip_bytes": settings.STYLEFINDER_MAX_ZIP_BYTES,
            "max_zip_members": settings.STYLEFINDER_MAX_ZIP_MEMBERS,
            "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        }
        return TemplateResponse(request, "admin/photos/photo/upload.html", context)

    def _import_uploads(self, request, uploads, published: bool) -> ImportReport:
        """Ingest every uploaded file and zip member; one bad file never stops the others."""
        report = ImportReport.empty()
        for upload in uploads:
            name = os.path.basename(upload.name or "") or "upload"
            try:
                if looks_like_zip(upload, name):
                    import_zip(upload, name, report, published=published)
                else:
                    report.add(name, upload, published=published)
            except Exception:
                logger.exception("Uploading %s failed", name)
                report.rejected.append(
                    (name, "An unexpected error stopped this file; the details were logged.")
                )
        for photo in report.imported:
            self.log_addition(request, photo, [{"added": {}}])
        return report

    def _upload_result(self, request, report: ImportReport) -> HttpResponse:
        imported_ids = [photo.pk for photo in report.imported]
        fresh = Photo.objects.with_renditions().in_bulk(
            imported_ids + [photo.pk for _, photo in report.duplicates]
        )
        imported = [fresh.get(pk) for pk in imported_ids if pk in fresh]
        duplicates = [(name, fresh.get(photo.pk, photo)) for name, photo in report.duplicates]
        level = messages.SUCCESS if imported else messages.WARNING
        self.message_user(
            request,
            f"Imported {len(imported)}, already in the library {len(duplicates)}, "
            f"rejected {len(report.rejected)}.",
            level,
        )
        not_queued = [photo for photo in imported if photo.error == NOT_QUEUED]
        if not_queued:
            self.message_user(
                request,
                f"{len(not_queued)} of the imported photos could not be queued for processing: "
                "the task queue is unreachable. They are kept as pending and nothing is lost; "
                "once the queue is back, `python manage.py process_pending` (or “Re-process "
                "selected photos”) has them processed.",
                messages.WARNING,
            )
        if report.storage_error:
            self.message_user(
                request,
                f"{report.storage_error} Nothing was added for the rejected files; upload them "
                "again once the storage is back.",
                messages.ERROR,
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Upload results",
            "imported": [(photo, _thumbnail_html(photo)) for photo in imported],
            "duplicates": [(name, photo, _thumbnail_html(photo)) for name, photo in duplicates],
            "rejected": report.rejected,
        }
        return TemplateResponse(request, "admin/photos/photo/upload_result.html", context)


@admin.register(OrphanedFile)
class OrphanedFileAdmin(admin.ModelAdmin):
    """Files left in the media storage because it was down when their photo was deleted."""

    list_display = ("name", "reason", "error", "created_at")
    search_fields = ("name", "reason")
    readonly_fields = ("name", "reason", "error", "created_at")
    actions = ("delete_from_storage",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Delete the selected files from the storage", permissions=["delete"])
    def delete_from_storage(self, request, queryset):
        deleted, failing = purge_orphans(queryset)
        if deleted:
            self.message_user(request, f"Deleted {deleted} file(s).", messages.SUCCESS)
        if failing:
            self.message_user(
                request,
                f"{failing} file(s) could still not be deleted; see their error.",
                messages.ERROR,
            )
