"""What a visitor of the demo sees in "Similar style": how much of each strip is the photo's look.

    python benchmarks/demo_similar.py [--looks black_white,sepia,...] [--k 8]

Builds the demo gallery (`python manage.py demo`'s import, with the shared CNN when it lies
beside the checkout) in a temporary database and media folder, then for every photo takes the
strip its page shows (`similar_to_photo`, k photos) and counts the strip's photos in the same
look and those of the same subject in another look, overall and per look. The demo's looks are
chosen with this; it is a showcase figure, not a retrieval measurement (the looks come from
`photos/looks.py`, which the features were designed against: see `benchmarks/retrieval.py`).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_CNN = REPO.parent / "shared" / "models" / "efficientnet_lite0_imagenet.keras"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--looks", help="comma-separated looks of photos/looks.py (default: the demo's)"
    )
    parser.add_argument("--k", type=int, default=8, help="strip length (the photo page shows 8)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="demo-similar-"))
    os.environ.update(
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        MEDIA_ROOT=str(workdir / "media"),
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_LOG_LEVEL="WARNING",
    )
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    if SHARED_CNN.is_file():
        os.environ.setdefault("STYLEFINDER_CNN_WEIGHTS", str(SHARED_CNN))
    sys.path.insert(0, str(REPO))

    import django

    django.setup()
    from django.core.management import call_command

    import photos.demo_gallery as demo_gallery
    from photos.models import Photo
    from recommender.models import ClusterRun, Membership
    from recommender.selectors import similar_to_photo

    if args.looks:
        demo_gallery.DEMO_LOOKS = tuple(args.looks.split(","))
    call_command("demo", "--no-input", verbosity=0, stdout=io.StringIO())
    facts = {  # filename "<source>-<look>.jpg" (photos.demo_gallery.render)
        photo.pk: tuple(photo.original_filename.removesuffix(".jpg").split("-", 1))
        for photo in Photo.objects.all()
    }
    same_look = same_subject = shown = 0
    by_look, by_look_shown = Counter(), Counter()
    for photo in Photo.objects.all():
        source, look = facts[photo.pk]
        for item in similar_to_photo(photo, k=args.k):
            other_source, other_look = facts[item.photo.pk]
            same_look += other_look == look
            same_subject += other_source == source
            by_look[look] += other_look == look
            by_look_shown[look] += 1
            shown += 1
    looks = len(by_look_shown)
    photos = len(facts)
    chance = (photos / looks - 1) / (photos - 1) if looks else 0.0
    print(f"demo: {photos} photos, {looks} looks, strips of {args.k} ({shown} photos shown)")
    print(f"  same look:                 {same_look / shown:.2f}  (chance {chance:.2f})")
    print(f"  same subject, other look:  {same_subject / shown:.2f}")
    for look, count in sorted(by_look_shown.items()):
        print(f"    {look:<12} same look {by_look[look] / count:.2f}")
    print_albums(facts, ClusterRun.objects.get(is_active=True), Membership)
    return 0


def print_albums(facts: dict, run, memberships) -> None:
    """The active run's albums against the demo's looks."""
    from sklearn.metrics import adjusted_rand_score

    rows = memberships.objects.filter(run=run).select_related("cluster__album")
    looks_by_album: dict[str, Counter] = {}
    truth, found = [], []
    for row in rows:
        look = facts[row.photo_id][1]
        looks_by_album.setdefault(row.cluster.album.name, Counter())[look] += 1
        truth.append(look)
        found.append(row.cluster_id)
    print(
        f"albums: k = {run.k} (silhouette {run.silhouette:.2f}), adjusted Rand index against "
        f"the looks {adjusted_rand_score(truth, found):.2f}"
    )
    sweep = ", ".join(
        f"{point['k']}: {point['silhouette']:.2f}" for point in run.sweep if point["silhouette"]
    )
    print(f"  silhouette by k: {sweep}")
    for name, looks in sorted(looks_by_album.items(), key=lambda item: -item[1].total()):
        members = ", ".join(f"{look} {count}" for look, count in looks.most_common())
        print(f"  {name} ({looks.total()}): {members}")


if __name__ == "__main__":
    sys.exit(main())
