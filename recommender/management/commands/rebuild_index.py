"""python manage.py rebuild_index: the recommendation issue's name for `recluster`."""

from .recluster import Command as ReclusterCommand


class Command(ReclusterCommand):
    help = "Rebuild the style index now (same as `recluster`)."
