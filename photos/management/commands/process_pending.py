"""python manage.py process_pending: queue every photo still waiting for processing again.

Photos stay `pending` when the task queue could not be reached at upload time (nothing is lost);
this command, or the admin's "Re-process" action, hands them to the queue once it is back.
"""

from django.core.management.base import BaseCommand

from photos.models import Photo
from photos.queueing import enqueue_processing
from photos.signals import announce_settled


class Command(BaseCommand):
    help = "Queue pending photos for processing again (e.g. after the broker was down)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--failed", action="store_true", help="Also retry photos whose processing failed."
        )

    def handle(self, *args, failed=False, **options):
        statuses = [Photo.Status.PENDING] + ([Photo.Status.FAILED] if failed else [])
        ids = list(Photo.objects.filter(status__in=statuses).values_list("pk", flat=True))
        queued = sum(enqueue_processing(photo_id) for photo_id in ids)
        announce_settled()
        self.stdout.write(f"Queued {queued} of {len(ids)} photos.")
        if queued < len(ids):
            self.stderr.write("The task queue could not be reached for the others.")
