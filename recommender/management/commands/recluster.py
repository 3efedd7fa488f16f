"""python manage.py recluster [--k N | --auto]: re-cluster now, synchronously."""

from django.core.management.base import BaseCommand, CommandError

from recommender.services import recluster


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


class Command(BaseCommand):
    help = "Re-cluster the library now: style space, neighbours, clusters and albums."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--k", type=int, help="Number of clusters (overrides the setting).")
        group.add_argument(
            "--auto", action="store_true", help="Choose k automatically (silhouette)."
        )

    def handle(self, *args, k=None, auto=False, **options):
        if k is not None and k < 1:
            raise CommandError("--k must be at least 1.")
        result = recluster(k=k, auto=auto)
        if result.run is None:
            if "Another" in result.message:
                raise CommandError(result.message)
            self.stdout.write(self.style.WARNING(result.message))
            return
        run = result.run
        self.stdout.write(self.style.SUCCESS(f"Run {run.pk}: {run.n_photos} photos"))
        self.stdout.write(f"k           {run.k} ({run.algorithm})")
        self.stdout.write(f"silhouette  {_fmt(run.silhouette)}")
        self.stdout.write(f"WCSS        {_fmt(run.wcss)}")
        self.stdout.write(f"stability   {_fmt(run.stability)}")
        self.stdout.write(f"duration    {run.duration_seconds:.2f} s")
        phases = run.config.get("seconds", [])
        if phases:
            spent = " · ".join(f"{phase} {seconds:.2f}" for phase, seconds in phases)
            self.stdout.write(f"phases (s)  {spent}")
        if len(run.sweep) > 1:
            best = ", ".join(
                f"k={p['k']}: {_fmt(p['silhouette'])}"
                for p in sorted(run.sweep, key=lambda p: -(p["silhouette"] or -1))[:3]
            )
            self.stdout.write(f"best k by silhouette: {best}")
