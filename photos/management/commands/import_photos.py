"""``python manage.py import_photos DIR [--recursive] [--unpublished] [--jobs N]``

Ingests every image file in a folder through `ingest_photo`, with a progress bar. Resumable: each
file is hashed first and skipped if its content is already in the library, so running the command
again after an interruption only does the remaining work and never imports a photo twice.

In the embedded default (no task queue) the photos are processed by `--jobs` processes forked
from this one (`photos.process_pool`) while the command goes on ingesting; with a queue, the
workers process them.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from photos.models import Photo
from photos.process_pool import ProcessingPool, default_jobs, pool_unavailable_reason
from photos.queueing import processing_handled_by
from photos.services import ImportReport, find_duplicate
from photos.signals import announce_settled

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"})


def find_image_files(root: Path, recursive: bool = False) -> list[Path]:
    """Image files under `root` by extension (case-insensitive), hidden ones left out, sorted."""
    candidates = root.rglob("*") if recursive else root.iterdir()
    found = []
    for path in candidates:
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


class Command(BaseCommand):
    help = (
        "Import the photos (JPEG, PNG, WebP, TIFF) in a folder. Files already in the library "
        "(same content) are skipped, so the command can be run again to resume."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", help="Folder holding the photos.")
        parser.add_argument(
            "--recursive", "-r", action="store_true", help="Also import from sub-folders."
        )
        parser.add_argument(
            "--unpublished",
            action="store_true",
            help="Import the photos hidden from visitors (publish them later in the admin).",
        )
        parser.add_argument(
            "--jobs",
            "-j",
            type=int,
            default=default_jobs(),
            help="Processes that make renditions and features when there is no task queue "
            "(default: one per core).",
        )

    def handle(
        self, *args, directory: str, recursive: bool, unpublished: bool, jobs: int, **options
    ):
        root = Path(directory).expanduser()
        if not root.exists():
            raise CommandError(f"{directory}: no such directory.")
        if not root.is_dir():
            raise CommandError(f"{directory}: not a directory.")
        root = root.resolve()

        files = find_image_files(root, recursive=recursive)
        if not files:
            where = "in or under" if recursive else "in"
            hint = "" if recursive else " (use --recursive to include sub-folders)"
            raise CommandError(
                f"No image files (.jpg, .jpeg, .png, .webp, .tif, .tiff) {where} {root}{hint}."
            )

        if jobs < 1:
            raise CommandError("--jobs must be at least 1.")
        verbosity = options["verbosity"]
        if pool_unavailable_reason(jobs) is None:
            with ProcessingPool(jobs) as pool, processing_handled_by(pool.submit):
                report = self.import_files(
                    root, files, published=not unpublished, verbosity=verbosity
                )
                with self.progress_bar("Processing", pool.submitted, verbosity) as bar:
                    workers = pool.finish(lambda status: bar.update())
            if workers:
                self.stdout.write(f"Processed in {len(workers)} of {jobs} processes (--jobs).")
        else:
            report = self.import_files(root, files, published=not unpublished, verbosity=verbosity)
        announce_settled()  # the embedded default re-clusters now, not on the first page view
        self.print_summary(report)

        if report.rejected and not report.imported and not report.duplicates:
            raise CommandError(f"None of the {len(files)} files could be imported.")

    def import_files(
        self, root: Path, files: list[Path], *, published: bool, verbosity: int
    ) -> ImportReport:
        report = ImportReport.empty()
        stream = self.progress_stream()
        # Log lines (e.g. "Ingested photo …") are printed above the bar instead of through it.
        with (
            logging_redirect_tqdm(tqdm_class=tqdm),
            self.progress_bar("Importing", len(files), verbosity) as progress,
        ):
            for path in files:
                name = path.relative_to(root).as_posix()
                try:
                    with path.open("rb") as file:
                        existing = find_duplicate(file)
                        if existing is not None:
                            report.duplicates.append((name, existing))
                            outcome = "already present"
                        else:
                            before = len(report.imported), len(report.duplicates)
                            report.add(name, file, published=published)
                            if len(report.imported) > before[0]:
                                outcome = "imported"
                            elif len(report.duplicates) > before[1]:
                                outcome = "already present"
                            else:
                                outcome = f"rejected: {report.rejected[-1][1]}"
                except OSError as exc:
                    report.rejected.append((name, f"The file could not be read: {exc}"))
                    outcome = "unreadable"
                if verbosity >= 2:
                    progress.write(f"{name}: {outcome}", file=stream)
                progress.update()
        return report

    def progress_stream(self):
        return getattr(self.stderr, "_out", sys.stderr)

    def progress_bar(self, description: str, total: int, verbosity: int) -> tqdm:
        stream = self.progress_stream()
        interactive = hasattr(stream, "isatty") and stream.isatty()
        return tqdm(
            total=total,
            desc=description,
            unit="photo",
            file=stream,
            dynamic_ncols=interactive,
            # Not a terminal (a log, CI): an occasional line instead of a redrawn bar.
            mininterval=0.1 if interactive else 30,
            disable=verbosity == 0,
        )

    def print_summary(self, report: ImportReport) -> None:
        imported, present, rejected = (
            len(report.imported),
            len(report.duplicates),
            len(report.rejected),
        )
        line = f"Imported {imported}, already present {present}, rejected {rejected}."
        style = self.style.SUCCESS if imported or not rejected else self.style.WARNING
        self.stdout.write(style(line))

        if report.imported:
            ids = [photo.pk for photo in report.imported]
            statuses = Counter(Photo.objects.filter(pk__in=ids).values_list("status", flat=True))
            self.stdout.write(
                "Processing: "
                + ", ".join(
                    f"{statuses.get(status, 0)} {status.label.lower()}" for status in Photo.Status
                )
                + "."
            )
            failed = Photo.objects.filter(pk__in=ids, status=Photo.Status.FAILED)
            for photo in failed:
                self.stdout.write(
                    self.style.WARNING(f"  failed: {photo.original_filename}: {photo.error}")
                )

        if report.duplicates:
            present_ids = {photo.pk for _, photo in report.duplicates}
            failed_before = Photo.objects.filter(
                pk__in=present_ids, status=Photo.Status.FAILED
            ).count()
            if failed_before:
                self.stdout.write(
                    self.style.WARNING(
                        f"{failed_before} of the photos already present failed processing "
                        "earlier; re-process them in the admin (filter by status: Failed)."
                    )
                )

        if report.rejected:
            self.stdout.write(self.style.WARNING("Rejected:"))
            for name, reason in report.rejected:
                self.stdout.write(f"  {name}: {reason}")

        if report.storage_error:
            self.stdout.write(
                self.style.ERROR(
                    f"{report.storage_error} The import stopped there; run the command again "
                    "once the storage is back (photos already imported are skipped)."
                )
            )
