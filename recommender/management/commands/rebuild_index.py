"""python manage.py rebuild_index: build the similarity index now, synchronously."""

from django.core.management.base import BaseCommand, CommandError

from recommender.services import rebuild_index


class Command(BaseCommand):
    help = "Rebuild the style index (neighbours of every public photo) now."

    def handle(self, *args, **options):
        result = rebuild_index()
        if result.run is None:
            if "Another" in result.message:
                raise CommandError(result.message)
            self.stdout.write(self.style.WARNING(result.message))
            return
        run = result.run
        self.stdout.write(self.style.SUCCESS(result.message))
        self.stdout.write(
            f"run {run.pk}: blocks {', '.join(run.config['blocks'])}; "
            f"settings {run.config['space']}; {run.config['neighbours_per_photo']} neighbours"
        )
