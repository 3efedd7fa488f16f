"""Choose the look metric and the space's weights by cross-validation, report held-out figures,
and (with ``--write``) fit the shipped metrics on every set.

    python benchmarks/fit_look_metric.py LOOK_SET_DIR [LOOK_SET_DIR ...] [--train-only DIR ...]
        [--shoots LABELS_CSV] [--shoot-photos DIR] [--cnn-weights PATH] [--folds 2] [--write]
        [--json]

Each LOOK_SET_DIR is a set written by `make_style_set.py` (``labels.csv`` with
``filename,group,source``); its folder name is its *look family* (``looks``, ``lut``,
``albumentations``, ``pilgram``: one implementation of looks each). Features are extracted as
`retrieval.py` does and share its cache.

Held-out protocol (DESIGN.md §4 "Measuring retrieval"):

- The source photos are split into ``--folds`` folds by a hash of their name. A metric is fitted
  on the *training* photos and scored on the others: no test photo is seen in training, in any
  look.
- **Outer loop: leave one family out.** For each family F, every candidate is trained on the
  other families only and scored on F. The candidate (metric inputs, dimensions, shrinkage,
  block weights) is chosen by an **inner** leave-one-family-out over the remaining families, so
  F's figure is never the one that chose it. The "held-out" column is that figure; the README
  reports it.
- Strict metric: the query's own source photo in another look is ranked and counts as a miss.
- ``--train-only``: sets that are added to every training set and never scored (the random
  grades of ``--family grades``); their photos are split by the same folds, so a scored photo is
  never seen in training in those sets either.
- ``--shoots``: the same-shoot set (`make_shoot_labels.py`), scored with metrics fitted on the
  other fold's photos, per fold, photos of one fold ranked among themselves.

The copy detector (other edits of the query's photo ranked last, `space.CopyDetector`) is
centred on the mean content embedding of the training photos of each fold; its threshold is
part of the candidate, chosen by the same inner loop.

``--write`` then fits the chosen candidate on every family and photo and writes
``recommender/data/look_metric_style.npz``, ``look_metric_style_cnn.npz`` and
``copy_centre.npz`` (``--write-centre`` writes only the centre, without the cross-validation).
The chosen copy threshold goes into `SpaceSettings` and the model's
default by hand (it is a setting, not a fitted file).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.retrieval import (
    LabelledSet,
    evaluate,
    extract_features,
    format_table,
    load_extractors,
    rank_all,
    read_labels,
)
from recommender.blocks import (
    STYLE_CNN_METRIC,
    STYLE_METRIC,
    SpaceSettings,
    cnn_layout,
    fit_space,
    split_blocks,
)
from recommender.look_metric import (
    LookMetric,
    fit_look_metric,
    metric_path,
    write_copy_centre,
)

K = 10
#: the site's weights before the look block
BEFORE = SpaceSettings(
    look_weight=0.0, style_weight=2.0, cnn_weight=1.0, content_weight=0.25, copy_threshold=None
)
#: `?mode=look`: the look block alone (the copy threshold is the chosen candidate's)
LOOK_ONLY = SpaceSettings(look_weight=1.0, style_weight=0.0, cnn_weight=0.0, content_weight=0.0)
#: what `?mode=scene` compares where photos have no EXIF (the shared photos have none); a scene
#: keeps the other edits of its photo
SCENE = SpaceSettings(
    look_weight=0.0, style_weight=0.0, cnn_weight=0.0, content_weight=1.0, copy_threshold=None
)
#: copy thresholds tried: other edits of the query's photo (content cosine above) ranked last
COPY_THRESHOLDS = (None, 0.6, 0.7, 0.8)
#: the CNN's channel correlations enter the metric as this many principal components (32–96
#: gave 0.580–0.584 held out on the fixed candidate; their 772 columns as they are, 0.54–0.56)
CORRELATION_COMPONENTS = 64


@dataclass(frozen=True)
class Candidate:
    """One point of the search: what the metric reads and how the space weighs its blocks."""

    inputs: tuple[str, ...]  # ("style",), ("style", "cnn.style", "cnn.correlations"), ...
    dims: int
    shrinkage: float
    settings: SpaceSettings
    reduce: tuple[tuple[str, int], ...] = ()  # inputs fitted through principal components

    def describe(self) -> str:
        s = self.settings
        copies = "off" if s.copy_threshold is None else f"{s.copy_threshold:g}"
        inputs = "+".join(
            f"{name}→{dict(self.reduce)[name]}" if name in dict(self.reduce) else name
            for name in self.inputs
        )
        return (
            f"metric[{inputs}, {self.dims}d, ε={self.shrinkage:g}] "
            f"look={s.look_weight:g} style={s.style_weight:g} cnn={s.cnn_weight:g} "
            f"content={s.content_weight:g} copies last>{copies}"
        )

    def without_copies(self) -> Candidate:
        return replace(self, settings=replace(self.settings, copy_threshold=None))

    def with_look_only(self) -> Candidate:
        return replace(
            self, settings=replace(LOOK_ONLY, copy_threshold=self.settings.copy_threshold)
        )


def candidates(have_cnn: bool) -> list[Candidate]:
    inputs = (
        [("style", "cnn.style"), ("style", "cnn.style", "cnn.correlations")]
        if have_cnn
        else [("style",)]
    )
    weightings = [
        SpaceSettings(
            look_weight=1.0, style_weight=0.0, cnn_weight=0.0, content_weight=w, copy_threshold=t
        )
        for w, t in itertools.product((0.0, 0.05, 0.1), COPY_THRESHOLDS)
    ]
    if not have_cnn:  # no content embedding: no content weight and no copies to tell
        weightings = [
            replace(w, cnn_weight=0.0, content_weight=0.0, copy_threshold=None) for w in weightings
        ]
        weightings = list(dict.fromkeys(weightings))
    reduce = (("cnn.correlations", CORRELATION_COMPONENTS),)
    return [
        Candidate(i, dims, shrinkage, w, reduce if "cnn.correlations" in i else ())
        for i, dims, shrinkage, w in itertools.product(inputs, (32, 48), (0.1, 0.3), weightings)
    ]


# --- data -----------------------------------------------------------------------------------------


@dataclass
class Part:
    """Rows of one labelled set: features as raw blocks, labels, photo names."""

    name: str
    data: LabelledSet
    blocks: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    photos: np.ndarray  # source photo name per row

    def take(self, rows: np.ndarray) -> Part:
        d = self.data
        sub = LabelledSet(
            [d.files[i] for i in rows],
            d.groups[rows],
            d.group_names,
            None if d.sources is None else d.sources[rows],
        )
        return Part(
            self.name,
            sub,
            {k: v[rows] for k, v in self.blocks.items()},
            {k: v[rows] for k, v in self.features.items()},
            self.photos[rows],
        )


def photo_fold(names: np.ndarray, folds: int) -> np.ndarray:
    return np.array([zlib.crc32(str(name).encode()) % folds for name in names])


def load_part(name, photos_dir: Path, labels: Path, extractors, parts) -> Part:
    data = read_labels(labels, photos_dir)
    cache = labels.with_suffix(".features.npz")
    features, _, _ = extract_features(photos_dir, data.files, extractors, cache)
    import csv

    with labels.open(newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row.get("filename")]
    photos = np.array([Path(row.get("source") or row["filename"]).stem for row in rows])
    return Part(name, data, split_blocks(features, parts), features, photos)


# --- fitting and scoring ----------------------------------------------------------------------


def fit_metric(train: list[Part], candidate: Candidate, signature: str | None) -> LookMetric:
    vectors = np.concatenate(
        [np.concatenate([p.blocks[i] for i in candidate.inputs], axis=1) for p in train]
    )
    looks = np.concatenate(
        [[f"{p.name}/{p.data.group_names[g]}" for g in p.data.groups] for p in train]
    )
    photos = np.concatenate([p.photos for p in train])
    dims = tuple(train[0].blocks[i].shape[1] for i in candidate.inputs)
    return fit_look_metric(
        vectors,
        looks,
        photos,
        inputs=candidate.inputs,
        input_dims=dims,
        cnn_signature=signature if "cnn.style" in candidate.inputs else None,
        dims=candidate.dims,
        shrinkage=candidate.shrinkage,
        reduce={name: m for name, m in candidate.reduce if name in candidate.inputs},
        trained_on=", ".join(f"{p.name} ({len(set(p.photos))} photos)" for p in train),
    )


def score(
    part: Part,
    settings: SpaceSettings,
    metric: LookMetric | None,
    parts,
    copy_centre: np.ndarray | None = None,
) -> float:
    """Strict P@10 of the site's space (`fit_space`) over `part` with this metric (and the
    copy detector centred on `copy_centre`, the training photos' mean content embedding)."""
    ids = np.arange(len(part.data))
    features = (
        part.features
        if metric is None or "cnn.style" in metric.inputs
        else {
            "style": part.features["style"],
            **(
                {"cnn": part.features["cnn"]}
                if settings.cnn_weight or settings.content_weight
                else {}
            ),
        }
    )
    space = fit_space(ids, features, settings, parts, look_metric=metric, copy_centre=copy_centre)
    return evaluate(part.data, rank_all(space), K).p_at_k


def split(part: Part, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    fold = photo_fold(part.photos, folds)
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(folds)]


def outside_fold(parts: list[Part], f: int, folds: int) -> list[Part]:
    """Each part's photos outside fold `f` (a fold's training photos)."""
    return [p.take(np.flatnonzero(photo_fold(p.photos, folds) != f)) for p in parts]


_fitted: dict[tuple, LookMetric] = {}


def fold_metric(
    train_parts: list[Part], f: int, folds: int, candidate: Candidate, signature
) -> LookMetric:
    """The metric fitted on `train_parts`' photos outside fold `f` (memoised: candidates that
    differ only in the space's weights share it)."""
    key = (
        tuple(p.name for p in train_parts),
        f,
        folds,
        candidate.inputs,
        candidate.dims,
        candidate.shrinkage,
        candidate.reduce,
    )
    if key not in _fitted:
        _fitted[key] = fit_metric(outside_fold(train_parts, f, folds), candidate, signature)
    return _fitted[key]


def content_centre(train: list[Part]) -> np.ndarray | None:
    """The copy detector's centre: the mean content embedding of the training images."""
    if any("cnn.content" not in p.blocks for p in train):
        return None
    return np.concatenate([p.blocks["cnn.content"] for p in train]).mean(axis=0)


_centres: dict[tuple, np.ndarray | None] = {}


def fold_centre(train_parts: list[Part], f: int, folds: int) -> np.ndarray | None:
    """`content_centre` of `train_parts`' photos outside fold `f` (memoised)."""
    key = (tuple(p.name for p in train_parts), f, folds)
    if key not in _centres:
        _centres[key] = content_centre(outside_fold(train_parts, f, folds))
    return _centres[key]


def held_out_score(
    train_parts: list[Part], test: Part, candidate: Candidate, folds: int, signature, parts
) -> float:
    """Mean over photo folds: metric fitted on `train_parts`' other-fold photos, scored on
    `test`'s photos of the fold."""
    values = []
    for f in range(folds):
        rows = np.flatnonzero(photo_fold(test.photos, folds) == f)
        metric = fold_metric(train_parts, f, folds, candidate, signature)
        centre = fold_centre(train_parts, f, folds)
        values.append(score(test.take(rows), candidate.settings, metric, parts, centre))
    return float(np.mean(values))


def baseline_score(test: Part, settings: SpaceSettings, folds: int, parts) -> float:
    rows_by_fold = [np.flatnonzero(photo_fold(test.photos, folds) == f) for f in range(folds)]
    return float(np.mean([score(test.take(r), settings, None, parts) for r in rows_by_fold]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", type=Path, help="look set folders (name = family)")
    parser.add_argument(
        "--train-only",
        nargs="+",
        type=Path,
        default=[],
        help="sets for training only, never scored",
    )
    parser.add_argument("--shoots", type=Path, help="same-shoot labels (make_shoot_labels.py)")
    parser.add_argument("--shoot-photos", type=Path, default=Path("../shared/photos/elementary"))
    parser.add_argument("--cnn-weights", help="CNN model file (sets STYLEFINDER_CNN_WEIGHTS)")
    parser.add_argument("--folds", type=int, default=2, help="photo folds (default 2)")
    parser.add_argument("--write", action="store_true", help="fit on everything and write")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--write-centre",
        action="store_true",
        help="only write the copy detector's centre (mean content embedding of every set)",
    )
    args = parser.parse_args(argv)
    if len(args.sets) < 3:
        parser.error("need at least three look families (outer and inner leave-one-out)")

    began = time.perf_counter()
    extractors, cnn_reason = load_extractors(args.cnn_weights, want_cnn=True)
    cnn = next((e for e in extractors if e.name == "cnn"), None)
    parts = cnn_layout(cnn) if cnn is not None else None
    signature = cnn.signature if cnn is not None else None
    families = [load_part(d.name, d, d / "labels.csv", extractors, parts) for d in args.sets]
    extra = [load_part(d.name, d, d / "labels.csv", extractors, parts) for d in args.train_only]
    if args.write_centre:
        write_centre(families + extra, signature)
        return

    def training(*left_out: int) -> list[Part]:
        """The scored families but `left_out`, and every training-only set."""
        return [p for i, p in enumerate(families) if i not in left_out] + extra

    shoots = (
        load_part("shoots", args.shoot_photos, args.shoots, extractors, parts)
        if args.shoots
        else None
    )
    pool = candidates(cnn is not None)
    print(
        f"{len(families)} look families (+{len(extra)} for training only), {len(pool)} "
        f"candidates, {args.folds} photo folds"
        + (f"; CNN unavailable: {cnn_reason}" if cnn is None else ""),
        file=sys.stderr,
    )

    # score[c][g]: candidate c trained without family g, scored on g (the inner loops reuse it:
    # without F and G it is trained on the others, which is a different fit, computed below).
    def inner_choice(outer: int) -> Candidate:
        rest = [i for i in range(len(families)) if i != outer]
        best, best_value = pool[0], -1.0
        for candidate in pool:
            values = []
            for g in rest:
                train = training(outer, g)
                values.append(
                    held_out_score(train, families[g], candidate, args.folds, signature, parts)
                )
            value = float(np.mean(values))
            if value > best_value:
                best, best_value = candidate, value
        return best

    rows = []
    report: dict = {"families": {}, "k": K}
    for outer, test in enumerate(families):
        chosen = inner_choice(outer)
        train = training(outer)
        held = held_out_score(train, test, chosen, args.folds, signature, parts)
        current = baseline_score(test, BEFORE, args.folds, parts)
        look_only = held_out_score(
            train, test, chosen.with_look_only(), args.folds, signature, parts
        )
        style_only = held_out_score(
            train,
            test,
            replace(chosen.with_look_only(), inputs=("style",), reduce=()),
            args.folds,
            signature,
            parts,
        )
        copies_in_place = held_out_score(
            train, test, chosen.without_copies(), args.folds, signature, parts
        )
        report["families"][test.name] = {
            "chosen": chosen.describe(),
            "held_out_default": held,
            "held_out_copies_in_place": copies_in_place,
            "held_out_look_only": look_only,
            "held_out_without_cnn": style_only,
            "current_default": current,
        }
        rows.append(
            [
                test.name,
                chosen.describe(),
                f"{current:.3f}",
                f"{held:.3f}",
                f"{copies_in_place:.3f}",
                f"{look_only:.3f}",
                f"{style_only:.3f}",
            ]
        )
        print(f"  {test.name}: {held:.3f} (chose {chosen.describe()})", file=sys.stderr)

    # The shipped candidate: chosen by leave-one-family-out over all families.
    overall = {}
    for candidate in pool:
        overall[candidate] = float(
            np.mean(
                [
                    held_out_score(
                        training(i),
                        families[i],
                        candidate,
                        args.folds,
                        signature,
                        parts,
                    )
                    for i in range(len(families))
                ]
            )
        )
    shipped = max(pool, key=overall.get)
    report["shipped"] = {"candidate": shipped.describe(), "cv_mean": overall[shipped]}
    if shoots is not None:
        shoot_rows = []
        fixed = {"old weights": BEFORE, "scene mode (content only)": SCENE}
        for settings_name, candidate in (
            ("old weights", None),
            ("new default", shipped),
            ("new default, other edits in place", shipped.without_copies()),
            ("look mode", shipped.with_look_only()),
            ("scene mode (content only)", None),
        ):
            if settings_name in fixed and cnn is None and fixed[settings_name] is SCENE:
                continue  # no CNN, no content embedding
            values = []
            for f in range(args.folds):
                rows_f = np.flatnonzero(photo_fold(shoots.photos, args.folds) == f)
                test = shoots.take(rows_f)
                if candidate is None:
                    values.append(score(test, fixed[settings_name], None, parts))
                    continue
                metric = fold_metric(training(), f, args.folds, candidate, signature)
                centre = fold_centre(training(), f, args.folds)
                values.append(score(test, candidate.settings, metric, parts, centre))
            shoot_rows.append([settings_name, f"{np.mean(values):.3f}"])
        report["shoots"] = {name: float(value) for name, value in shoot_rows}

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            format_table(
                [
                    "held-out family",
                    "chosen by inner CV",
                    "old weights",
                    "new default",
                    "other edits in place",
                    "look only",
                    "no CNN",
                ],
                rows,
                title=f"Strict P@{K}, photos and look family held out ({args.folds} photo folds)",
            )
        )
        means = [f"{np.mean([float(r[i]) for r in rows]):.3f}" for i in (2, 3, 4, 5, 6)]
        print(
            format_table(
                ["", "old weights", "new default", "other edits in place", "look only", "no CNN"],
                [["mean over families", *means]],
            )
        )
        print(f"\nShipped: {shipped.describe()} (leave-one-family-out mean {overall[shipped]:.3f})")
        if shoots is not None:
            print(
                format_table(
                    ["same-shoot set", f"strict P@{K}"],
                    shoot_rows,
                    title="\nSame shoot (photo folds)",
                )
            )
    print(f"({time.perf_counter() - began:.0f} s)", file=sys.stderr)

    if args.write:
        write_shipped(training(), shipped, signature)


def write_centre(families: list[Part], signature: str | None) -> None:
    """Write the copy detector's centre: the mean content embedding of every image."""
    centre = content_centre(families)
    if centre is None or signature is None:
        print("CNN unavailable: copy_centre.npz not written", file=sys.stderr)
        return
    trained_on = ", ".join(f"{p.name} ({len(p.photos)} images)" for p in families)
    print(f"Wrote {write_copy_centre(centre, signature, trained_on)}")


def write_shipped(families: list[Part], chosen: Candidate, signature: str | None) -> None:
    """Fit the chosen candidate on every family and photo; write both shipped metrics and the
    copy detector's centre."""
    write_centre(families, signature)
    for name, inputs in ((STYLE_METRIC, ("style",)), (STYLE_CNN_METRIC, chosen.inputs)):
        if name == STYLE_CNN_METRIC and signature is None:
            print(f"CNN unavailable: {name} not written", file=sys.stderr)
            continue
        metric = fit_metric(families, replace(chosen, inputs=inputs), signature)
        path = metric_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(metric.to_bytes())
        print(f"Wrote {path}: {metric.in_dim} → {metric.dims} dims, trained on {metric.trained_on}")


if __name__ == "__main__":
    main()
