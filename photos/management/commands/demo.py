"""`python manage.py demo`: a working site with an admin and a demo gallery, in one command.

Migrates the database, creates (or updates) a staff superuser, imports the demo gallery (real
photographs shipped with scikit-image and scikit-learn, in every look; see `photos.demo_gallery`)
and says where to go. Safe to run again: what is already there is left as it is. With ``--serve``
it then opens every kind of page once in this process (index, templates and the CNN are loaded
before the first visitor comes) and serves the site with Django's development server.

Environment: ``DEMO_ADMIN_USER`` (default "admin"), ``DEMO_ADMIN_PASSWORD`` (a new user without it
gets a random password, printed once), ``PORT`` (only for the printed addresses, default 8000).
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from tqdm import tqdm

from photos.demo_gallery import demo_photo_count, iter_demo_photos
from photos.models import Photo
from photos.services import ImportReport
from photos.signals import announce_settled

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Set up a demo site: migrate, create the admin user (DEMO_ADMIN_USER / "
        "DEMO_ADMIN_PASSWORD) and import the demo gallery. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-photos", action="store_true", help="Do not import the demo gallery."
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Never prompt (the command itself never does; passed on to migrate).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            metavar="N",
            help="Import only the first N demo photos (quick checks and tests).",
        )
        parser.add_argument(
            "--serve",
            action="store_true",
            help=(
                "Then open each kind of page once (so the first visitor waits for nothing) and "
                "serve the site on 127.0.0.1:$PORT with the development server."
            ),
        )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        if options["limit"] is not None and options["limit"] < 0:
            raise CommandError("--limit must be 0 or more.")

        self.migrate(interactive=options["interactive"], verbosity=verbosity)
        username = self.ensure_admin()
        failure = None
        if not options["no_photos"]:
            failure = self.import_gallery(limit=options["limit"], verbosity=verbosity)
        if failure:
            self.where_to_go(username, serving=False)
            raise CommandError(failure)
        if not options["serve"]:
            self.where_to_go(username, serving=False)
            return
        self.warm_up()
        self.where_to_go(username, serving=True)
        call_command("runserver", f"127.0.0.1:{_port()}", use_reloader=False)

    # --- steps ------------------------------------------------------------------------------------

    def migrate(self, *, interactive: bool, verbosity: int) -> None:
        call_command(
            "migrate",
            interactive=interactive,
            verbosity=max(0, verbosity - 1),
            stdout=self.stdout,
            stderr=self.stderr,
        )
        self.stdout.write("Database is up to date.")

    def ensure_admin(self) -> str:
        """Create or update the staff superuser; returns its username."""
        User = get_user_model()  # noqa: N806
        username = os.environ.get("DEMO_ADMIN_USER", "").strip() or "admin"
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or None
        manager = User._default_manager
        user = manager.filter(**{User.USERNAME_FIELD: username}).first()

        if user is None:
            generated = password is None
            if generated:
                password = secrets.token_urlsafe(12)
            manager.create_superuser(**{User.USERNAME_FIELD: username, "password": password})
            self.stdout.write(self.style.SUCCESS(f"Created the admin user “{username}”."))
            if generated:
                self.stdout.write(
                    f"  Password: {password}\n"
                    "  (generated and shown only now; set DEMO_ADMIN_PASSWORD to choose one)"
                )
            else:
                self.stdout.write("  Password: the one in DEMO_ADMIN_PASSWORD.")
            return username

        changed = []
        for flag in ("is_staff", "is_superuser", "is_active"):
            if not getattr(user, flag):
                setattr(user, flag, True)
                changed.append(flag)
        if password is not None:
            user.set_password(password)
            changed.append("password")
        if changed:
            user.save()
        if password is not None:
            self.stdout.write(
                f"The admin user “{username}” exists; password set from DEMO_ADMIN_PASSWORD."
            )
        else:
            self.stdout.write(
                f"The admin user “{username}” exists; its password is left unchanged "
                "(set DEMO_ADMIN_PASSWORD to change it)."
            )
        return username

    def import_gallery(self, *, limit: int | None, verbosity: int) -> str | None:
        """Ingest the demo photos; returns why the import failed entirely, or None."""
        total = demo_photo_count()
        if limit is not None:
            total = min(total, limit)
        if total == 0 and limit != 0:
            return (
                "No demo photos are available: the sample images of scikit-image and "
                "scikit-learn were not found."
            )

        report = ImportReport.empty()
        errors: list[tuple[str, str]] = []
        photos = iter_demo_photos()
        if limit is not None:
            photos = itertools.islice(photos, limit)
        progress = _Progress(
            total, "Importing the demo gallery", stream=self.stdout, enabled=verbosity > 0
        )
        # One INFO line per photo would drown the progress bar; -v 2 shows them.
        with progress, _quiet_loggers(("photos", "recommender"), enabled=verbosity < 2):
            try:
                for demo in photos:
                    file = io.BytesIO(demo.data)
                    file.name = demo.filename
                    try:
                        report.add(
                            demo.filename, file, title=demo.title, description=demo.description
                        )
                    except Exception as exc:  # a storage or database error: report, go on
                        logger.exception("Demo photo %s could not be imported", demo.filename)
                        errors.append((demo.filename, f"{type(exc).__name__}: {exc}"))
                    progress.update()
            except Exception as exc:  # the demo images themselves could not be produced
                logger.exception("The demo gallery could not be rendered")
                errors.append(("demo gallery", f"{type(exc).__name__}: {exc}"))
            # The whole gallery is in: the style index is built now, not on the first page view.
            announce_settled()

        self.print_summary(report, errors)
        attempted = len(report.imported) + len(report.duplicates) + len(report.rejected)
        if (attempted or errors) and not (report.imported or report.duplicates):
            return "No demo photo could be imported (see the messages above)."
        return None

    def print_summary(self, report: ImportReport, errors: list[tuple[str, str]]) -> None:
        style = self.style.SUCCESS if not (report.rejected or errors) else self.style.WARNING
        self.stdout.write(
            style(
                f"Demo gallery: {len(report.imported)} imported, "
                f"{len(report.duplicates)} already present, "
                f"{len(report.rejected) + len(errors)} rejected."
            )
        )
        for name, reason in [*report.rejected, *errors]:
            self.stdout.write(self.style.ERROR(f"  {name}: {reason}"))

        if report.imported:
            failed = Photo.objects.filter(
                pk__in=[photo.pk for photo in report.imported], status=Photo.Status.FAILED
            ).count()
            if failed:
                self.stdout.write(
                    self.style.WARNING(
                        f"  {failed} imported photo(s) failed processing; "
                        "see their error in the admin and reprocess them there."
                    )
                )

        statuses = {status: 0 for status in Photo.Status.values}
        for row in Photo.objects.order_by().values("status").annotate(n=Count("id")):
            statuses[row["status"]] = row["n"]
        library = sum(statuses.values())
        detail = f"{statuses[Photo.Status.READY]} ready"
        if statuses[Photo.Status.PENDING]:
            detail += f", {statuses[Photo.Status.PENDING]} still processing"
        if statuses[Photo.Status.FAILED]:
            detail += f", {statuses[Photo.Status.FAILED]} failed"
        self.stdout.write(f"Library: {library} photo{'s' if library != 1 else ''} ({detail}).")

    def warm_up(self) -> None:
        """Open every kind of page once, in this process: the first visitor's page then pays for
        nothing (the index, the templates, the CNN behind "Find similar" are loaded already)."""
        started = time.perf_counter()
        self.stdout.write("Opening each kind of page once, so that no visitor waits…")
        client = Client(HTTP_HOST="127.0.0.1")
        first = Photo.objects.public().order_by("-created_at", "-id").first()
        pages = [reverse("gallery:index"), reverse("gallery:albums"), reverse("gallery:widget")]
        pages += [reverse("gallery:find_similar"), reverse("api:photo-list")]
        if first is not None:
            pages += [first.get_absolute_url(), reverse("api:photo-similar", args=[first.pk])]
        slow = []
        for page in pages:
            status = client.get(page).status_code
            if status != 200:
                slow.append(f"{page} answered {status}")
        if first is not None:
            with first.original.open("rb") as original:
                image = io.BytesIO(original.read())
            image.name = first.original_filename or "query.jpg"
            status = client.post(reverse("api:similar-upload"), {"image": image}).status_code
            if status != 200:
                slow.append(f"a query upload answered {status}")
        for problem in slow:
            self.stdout.write(self.style.WARNING(f"  {problem}"))
        self.stdout.write(f"  done in {time.perf_counter() - started:.1f} s.")

    def where_to_go(self, username: str, *, serving: bool) -> None:
        port = _port()
        base = f"http://127.0.0.1:{port}"
        if serving:
            serving_line = f"\nServing the demo at {base}/ (Ctrl-C stops it)"
            self.stdout.write(self.style.SUCCESS(serving_line))
        else:
            self.stdout.write(
                "\nServe the site with:  make serve  (or python manage.py runserver "
                f"127.0.0.1:{port})"
            )
        self.stdout.write(f"  Gallery: {base}/\n  Admin:   {base}/admin/  (user “{username}”)")


def _port() -> str:
    return os.environ.get("PORT", "").strip() or "8000"


class _Progress:
    """One progress bar on a terminal; elsewhere (make's output piped to a log) a line at every
    quarter, since a redrawn bar there is one endless line."""

    def __init__(self, total: int, label: str, *, stream, enabled: bool) -> None:
        self.total, self.label, self.stream, self.done = total, label, stream, 0
        self.enabled = enabled and total > 0
        self.bar = None
        if self.enabled and sys.stderr.isatty():
            self.bar = tqdm(total=total, desc=label, unit="photo", file=sys.stderr)
        elif self.enabled:
            self.stream.write(f"{label}: {total} photos…")
        self.marks = {round(total * share) for share in (0.25, 0.5, 0.75, 1.0)}

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        elif self.enabled and self.done in self.marks:
            self.stream.write(f"  {self.done}/{self.total} photos imported")


@contextmanager
def _quiet_loggers(names: Iterable[str], *, enabled: bool) -> Iterator[None]:
    """Raise these loggers to WARNING for the duration (warnings and errors still show)."""
    loggers = [logging.getLogger(name) for name in names] if enabled else []
    levels = [item.level for item in loggers]
    for item in loggers:
        item.setLevel(max(item.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for item, level in zip(loggers, levels, strict=True):
            item.setLevel(level)
