"""Label a photographer's folder by shoot: the same-shoot set of the retrieval benchmark.

    python benchmarks/make_shoot_labels.py SOURCE_DIR OUT_CSV [--max-gap-days 1]

A photo's capture date is the ``YYYYMMDD`` prefix of its file name (how the photos in
``../shared/photos/elementary`` are named: ``20180831-GOPR0522.jpg``). A shoot is a day, or a run
of days each at most ``--max-gap-days`` after the previous one (a trip over a weekend is one
shoot). Photos without a date prefix are listed with an empty group: distractors, ranked as
candidates but never queries and never relevant (``--skip-undated`` leaves them out).

OUT_CSV gets ``filename,group`` (group = ``shoot-<first day>``), the input of
`benchmarks/retrieval.py` with SOURCE_DIR as its photo folder. The labels come from the file
names only, never from the features, so they can judge them. There is no source column: every
photo is its own source, so strict and lenient figures are the same.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import sys
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
_DATE_PREFIX = re.compile(r"^(\d{8})[-_]")


def capture_date(name: str) -> dt.date | None:
    """The date a file name starts with (``YYYYMMDD-``), or None."""
    match = _DATE_PREFIX.match(name)
    if not match:
        return None
    try:
        return dt.datetime.strptime(match[1], "%Y%m%d").date()
    except ValueError:  # eight digits that are not a date, e.g. a frame counter
        return None


def shoots(names: list[str], max_gap_days: int = 1) -> dict[str, str]:
    """{file name: shoot label} for the dated names; undated names are left out."""
    dated = sorted((day, name) for name in names if (day := capture_date(name)) is not None)
    labels: dict[str, str] = {}
    label, previous = "", None
    for day, name in dated:
        if previous is None or (day - previous).days > max_gap_days:
            label = f"shoot-{day:%Y%m%d}"
        labels[name] = label
        previous = day
    return labels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source_dir", type=Path)
    parser.add_argument("out_csv", type=Path)
    parser.add_argument(
        "--max-gap-days",
        type=int,
        default=1,
        help="days between two photos of one shoot at most (default 1: consecutive days)",
    )
    parser.add_argument(
        "--skip-undated",
        action="store_true",
        help="leave out photos without a date prefix instead of listing them as distractors",
    )
    args = parser.parse_args(argv)
    if args.max_gap_days < 0:
        parser.error("--max-gap-days must be 0 or more")
    names = sorted(
        p.name
        for p in args.source_dir.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    labels = shoots(names, args.max_gap_days)
    if not labels:
        raise SystemExit(f"No file in {args.source_dir} starts with a YYYYMMDD date.")
    args.out_csv.parent.mkdir(parents=True, exist_ok=True)
    with args.out_csv.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "group"])
        writer.writerows(sorted(labels.items()))
        if not args.skip_undated:
            writer.writerows([name, ""] for name in names if name not in labels)
    sizes: dict[str, int] = {}
    for label in labels.values():
        sizes[label] = sizes.get(label, 0) + 1
    summary = ", ".join(f"{label} {n}" for label, n in sorted(sizes.items()))
    undated = "left out" if args.skip_undated else "distractors"
    print(
        f"Wrote {args.out_csv}: {len(labels)} of {len(names)} photos in {len(sizes)} shoots, "
        f"{len(names) - len(labels)} undated ({undated})"
    )
    print(f"  {summary}", file=sys.stderr)


if __name__ == "__main__":
    main()
