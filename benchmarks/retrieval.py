"""Retrieval quality of the style space on a labelled photo set.

    python benchmarks/retrieval.py PHOTOS_DIR LABELS_CSV [--configs NAME|SPEC ...] [--k 10]
        [--cnn-weights PATH] [--confusion NAME ...] [--no-cache] [--json]

LABELS_CSV has a header ``filename,group[,source]`` (as written by `make_style_set.py`). For each
image, the relevant images are the other images of the same group. With a ``source`` column,
images made from the same source photo are the same scene: they are never relevant *and are
removed from the ranking* (we measure style, not content: otherwise the 7 other looks of the same
scene would crowd the top of every list).

Features are extracted with the site's own code: `photos.imaging.open_normalized` with
``max_side`` = the largest ``input_side`` of the available extractors (what ingest does), then
each extractor's `extract` / `extract_batch`. Each configuration (weights and CNN PCA size) builds
a `recommender.space.StyleSpace` over all images with `StyleSpace.fit`, exactly like the index
build, and ranks every image's neighbours with `StyleSpace.search`.

Metrics (binary relevance, averaged over all images as queries): P@5, P@k, mAP@k (AP@k divided by
min(R, k), R = relevant items of the query), nDCG@k, MRR (over the full ranking). A random
ranking's expectation is printed as the baseline (P@k = share of relevant candidates; the other
metrics from 50 seeded random permutations).

Features are cached in ``<LABELS_CSV stem>.features.npz`` next to the labels, keyed by the file
list (names, sizes, mtimes), the decode size and each extractor's name, version, dim and model.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from tqdm import tqdm

from recommender.blocks import SpaceSettings

RANDOM_PERMUTATIONS = 50
DISTRACTOR = -1  # group code of a labelled image with an empty group: a candidate, never relevant
SAME_SOURCE = "own photo"  # confusion column: the query's source in another look
CNN_CHUNK = 64  # images decoded and held in memory per CNN call


# --- configurations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """A named `recommender.blocks.SpaceSettings`: the same knobs the admin sets."""

    name: str
    settings: SpaceSettings
    note: str = ""
    columns: tuple[str, ...] = ()  # an anchor: these style features alone, standardised

    @property
    def uses(self) -> list[str]:
        s = self.settings
        used = ["style"] if s.style_weight > 0 or s.look_weight > 0 else []
        if s.cnn_weight > 0 or s.content_weight > 0:
            used.append("cnn")
        return used

    def describe(self) -> str:
        if self.columns:
            return f"{len(self.columns)} style features, standardised, cosine"
        s = self.settings
        text = (
            f"look={s.look_weight:g}, style={s.style_weight:g}, cnn={s.cnn_weight:g}, "
            f"content={s.content_weight:g}"
        )
        return text + (f", content PCA={s.content_pca}" if s.content_weight > 0 else "")


SITE = SpaceSettings()  # the defaults of RecommenderSettings

_NO_LOOK = SpaceSettings(look_weight=0.0, style_weight=2.0, cnn_weight=1.0, content_weight=0.25)
#: The original research's 24 features: contrast, per-channel exposure distribution (3 × 4 bands),
#: mean RGB, sharpness, shares of the seven major hues (DESIGN.md §3).
RESEARCH_FEATURES = (
    "michelson_contrast",
    *(
        f"{c}_{band}"
        for c in ("red", "green", "blue")
        for band in ("shadows", "darks", "lights", "highlights")
    ),
    "mean_red",
    "mean_green",
    "mean_blue",
    "sharpness_mean",
    *(f"hue_{h}" for h in ("red", "orange", "yellow", "green", "cyan", "blue", "purple")),
)

PRESETS: dict[str, Config] = {
    c.name: c
    for c in [
        Config("default", SITE, "site default"),
        Config("look", SpaceSettings(1.0, 0.0, 0.0, 0.0), "learned look metric only"),
        Config("style", SpaceSettings(0.0, 1.0, 0.0, 0.0), "style features only"),
        Config("cnn_style", SpaceSettings(0.0, 0.0, 1.0, 0.0), "CNN style statistics only"),
        Config("cnn_content", SpaceSettings(0.0, 0.0, 0.0, 1.0), "CNN content embedding only"),
        Config("before_look", _NO_LOOK, "the default before the look metric"),
        Config(
            "research24",
            SpaceSettings(0.0, 1.0, 0.0, 0.0),
            "the original research's 24 features",
            RESEARCH_FEATURES,
        ),
        Config("before_no_content", replace(_NO_LOOK, content_weight=0.0)),
        Config("look_content", replace(SITE, content_weight=0.5)),
    ]
}
DEFAULT_CONFIGS = list(PRESETS)

_SPEC = re.compile(r"^(?:(?P<name>[\w.-]+):)?(?P<body>[\w.=,]+)$")
_KEYS = {
    "look": "look_weight",
    "style": "style_weight",
    "cnn": "cnn_weight",
    "content": "content_weight",
}


def parse_config(text: str) -> Config:
    """A preset name, or a spec like ``style=2,cnn=1,content=0.5,pca=16`` (``NAME:spec``)."""
    if text in PRESETS:
        return PRESETS[text]
    match = _SPEC.match(text)
    if not match or "=" not in text:
        raise ValueError(
            f"{text!r} is neither a preset ({', '.join(PRESETS)}) nor a spec like "
            "'look=1,style=0,cnn=0,content=0.1,pca=32'"
        )
    values: dict[str, float | int | None] = {field: 0.0 for field in _KEYS.values()}
    values["content_pca"] = SITE.content_pca
    for item in match["body"].split(","):
        key, _, value = item.partition("=")
        if key in _KEYS:
            values[_KEYS[key]] = float(value)
        elif key == "pca":
            values["content_pca"] = int(value) or None
        else:
            raise ValueError(
                f"unknown key {key!r} in {text!r} (use look=, style=, cnn=, content=, pca=)"
            )
    return Config(match["name"] or text, SpaceSettings(**values))


# --- data ----------------------------------------------------------------------------------------


@dataclass
class LabelledSet:
    files: list[str]
    groups: np.ndarray  # int codes; DISTRACTOR for an image without a group
    group_names: list[str]
    sources: np.ndarray | None  # int codes, or None without a source column

    def __len__(self) -> int:
        return len(self.files)

    @property
    def queries(self) -> np.ndarray:
        """Rows that are queries: every image with a group (distractors are only candidates)."""
        return np.flatnonzero(self.groups != DISTRACTOR)


def read_labels(path: Path, photos_dir: Path) -> LabelledSet:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        if "filename" not in fields or "group" not in fields:
            raise SystemExit(f"{path}: expected a header 'filename,group[,source]', got {fields}")
        rows = [row for row in reader if row.get("filename")]
    missing = [row["filename"] for row in rows if not (photos_dir / row["filename"]).is_file()]
    if missing:
        raise SystemExit(
            f"{len(missing)} labelled files are missing in {photos_dir}: {missing[:5]}"
        )
    group_names = sorted({row["group"] for row in rows if row["group"]})
    code = {name: i for i, name in enumerate(group_names)}
    code[""] = DISTRACTOR
    groups = np.array([code[row["group"]] for row in rows], dtype=np.int64)
    sources = None
    if "source" in fields:
        source_code: dict[str, int] = {}
        sources = np.array(
            [source_code.setdefault(row["source"], len(source_code)) for row in rows], np.int64
        )
    return LabelledSet([row["filename"] for row in rows], groups, group_names, sources)


# --- feature extraction (the site's code path) ---------------------------------------------------


def load_extractors(cnn_weights: str | None, want_cnn: bool) -> tuple[list, str | None]:
    """The extractors to run and, if the CNN cannot run, why."""
    if cnn_weights:
        os.environ["STYLEFINDER_CNN_WEIGHTS"] = cnn_weights
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from recommender.features import CnnConfig, ExtractorUnavailable, get_extractor

    extractors = [get_extractor("style")]
    if not want_cnn:
        return extractors, "no configuration uses the CNN"
    cnn = get_extractor("cnn", CnnConfig.from_mapping(os.environ))
    try:
        cnn.check_available()
    except ExtractorUnavailable as exc:
        return extractors, str(exc)
    except Exception as exc:  # a broken TensorFlow install must not stop the style benchmark
        return extractors, f"the CNN extractor failed to load: {type(exc).__name__}: {exc}"
    extractors.append(cnn)
    return extractors, None


def _extractor_identity(extractor) -> dict:
    identity = {"name": extractor.name, "version": extractor.version, "dim": int(extractor.dim)}
    description = getattr(extractor, "description", None)
    if description:
        identity["model"] = str(description)
    return identity


def cache_key(photos_dir: Path, files: Sequence[str], side: int, extractor) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([side, _extractor_identity(extractor)], sort_keys=True).encode())
    for name in files:
        stat = (photos_dir / name).stat()
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def extract_features(
    photos_dir: Path, files: Sequence[str], extractors: list, cache_path: Path | None
) -> tuple[dict[str, np.ndarray], dict[str, float], int]:
    """{extractor name: (n, dim)} features, seconds spent per step, and the decode size."""
    from photos.imaging import open_normalized

    side = max(extractor.input_side for extractor in extractors)
    keys = {e.name: cache_key(photos_dir, files, side, e) for e in extractors}
    features: dict[str, np.ndarray] = {}
    cached: dict[str, np.ndarray] = {}
    if cache_path is not None and cache_path.is_file():
        with np.load(cache_path, allow_pickle=False) as npz:
            cached = {name: npz[name] for name in npz.files}
        for name, key in keys.items():
            if f"{name}__key" in cached and str(cached[f"{name}__key"]) == key:
                features[name] = cached[name]
    todo = [e for e in extractors if e.name not in features]
    seconds = {"decode": 0.0, **{f"extract_{e.name}": 0.0 for e in todo}}
    if todo:
        out: dict[str, list[np.ndarray]] = {e.name: [] for e in todo}
        bar = tqdm(total=len(files), unit="img", desc="features", file=sys.stderr)
        for start in range(0, len(files), CNN_CHUNK):
            images = []
            for name in files[start : start + CNN_CHUNK]:
                began = time.perf_counter()
                with (photos_dir / name).open("rb") as fh:
                    images.append(open_normalized(fh, max_side=side))
                seconds["decode"] += time.perf_counter() - began
            for extractor in todo:
                began = time.perf_counter()
                if extractor.name == "style":
                    vectors = np.stack([extractor.extract(image) for image in images])
                else:
                    vectors = extractor.extract_batch(images)
                seconds[f"extract_{extractor.name}"] += time.perf_counter() - began
                out[extractor.name].append(np.asarray(vectors, dtype=np.float32))
            bar.update(len(images))
        bar.close()
        for name, chunks in out.items():
            features[name] = np.concatenate(chunks)
        if cache_path is not None:
            arrays = {k: v for k, v in cached.items()}
            for name in out:
                arrays[name] = features[name]
                arrays[f"{name}__key"] = np.array(keys[name])
            np.savez(cache_path, **arrays)
    else:
        seconds = {"cache": 0.0}
    return features, seconds, side


# --- ranking and metrics -------------------------------------------------------------------------


def same_source(data: LabelledSet) -> list[np.ndarray]:
    """Per query: the other images of its source photo (empty without a source column)."""
    if data.sources is None:
        return [np.zeros(0, np.int64) for _ in range(len(data))]
    by_source: dict[int, list[int]] = {}
    for i, source in enumerate(data.sources):
        by_source.setdefault(int(source), []).append(i)
    return [
        np.array([j for j in by_source[int(source)] if j != i], np.int64)
        for i, source in enumerate(data.sources)
    ]


def rank_all(space, chunk: int = 256) -> np.ndarray:
    """Every query's full ranking of the other images (row indices, best first), (n, n − 1),
    through `StyleSpace.search` as the site ranks: only the query itself is left out, and its
    copies (other edits, by the space's copy detector) rank last, as on the site."""
    n = len(space)
    rankings = np.empty((n, n - 1), np.int64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        copies = None if space.copies is None else space.copies.rows[start:stop]
        hits = space.search(
            space.matrix[start:stop],
            n,
            exclude=[{i} for i in range(start, stop)],
            query_copies=copies,
        )
        for row, found in enumerate(hits, start):
            rankings[row] = [pid for pid, _ in found]
    return rankings


def rank_scores(scores: np.ndarray) -> np.ndarray:
    """Rankings (n, n − 1) from a full similarity matrix (higher = more similar), self left out."""
    scores = np.array(scores, dtype=np.float64)
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1, kind="stable")[:, :-1]


def metrics_from_relevance(relevance: list[np.ndarray], k: int) -> dict[str, float]:
    """Mean P@5, P@k, mAP@k, nDCG@k and MRR over queries (each a binary vector, ranked)."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    p5, pk, ap, ndcg, rr = [], [], [], [], []
    for rel in relevance:
        top = rel[:k].astype(np.float64)
        total = int(rel.sum())
        p5.append(rel[:5].sum() / 5.0)
        pk.append(top.sum() / k)
        if total:
            precision_at = np.cumsum(top) / np.arange(1, len(top) + 1)
            ap.append(float((precision_at * top).sum() / min(total, k)))
            ideal = discounts[: min(total, k)].sum()
            ndcg.append(float((top * discounts[: len(top)]).sum() / ideal))
            first = int(np.argmax(rel))
            rr.append(1.0 / (first + 1))
        else:
            ap.append(0.0)
            ndcg.append(0.0)
            rr.append(0.0)
    out = {"P@5": float(np.mean(p5)), f"P@{k}": float(np.mean(pk))}
    out.update(
        {
            f"mAP@{k}": float(np.mean(ap)),
            f"nDCG@{k}": float(np.mean(ndcg)),
            "MRR": float(np.mean(rr)),
        }
    )
    return out


@dataclass
class Evaluation:
    """What one configuration's rankings score on a labelled set."""

    strict: dict[str, float]  # same-source images ranked, and counted as misses
    lenient: dict[str, float]  # same-source images dropped from the ranking
    same_source_at_k: float  # share of the top k that are the query's own source photo
    per_group: np.ndarray  # strict P@k by query group
    confusion: np.ndarray  # (groups, groups + 1): share of top k by group, last = same source

    @property
    def p_at_k(self) -> float:
        return next(v for name, v in self.strict.items() if name.startswith("P@") and name != "P@5")


def evaluate(data: LabelledSet, rankings: np.ndarray, k: int) -> Evaluation:
    """Strict and lenient metrics of full rankings (`rank_all`/`rank_scores`).

    Strict (DESIGN.md §4): another image of the query's own source photo is never relevant, and
    where it is ranked it takes a place of the list, as a miss. Lenient: those images are removed
    from the ranking first (what the benchmark reported before; printed beside, never instead).
    """
    groups = data.groups
    sources = data.sources if data.sources is not None else np.arange(len(data))
    strict_relevance, lenient_relevance = [], []
    n_groups = len(data.group_names)
    confusion = np.zeros((n_groups, n_groups + 1))
    per_group = np.zeros(n_groups)
    same_at_k = []
    for i in data.queries:
        ranking = rankings[i]
        own = sources[ranking] == sources[i]
        same_group = groups[ranking] == groups[i]
        strict = same_group & ~own
        strict_relevance.append(strict)
        lenient_relevance.append(same_group[~own])
        top = ranking[:k]
        top_own = own[:k]
        others = groups[top[~top_own]]
        confusion[groups[i], :n_groups] += (
            np.bincount(others[others != DISTRACTOR], minlength=n_groups) / k
        )
        confusion[groups[i], n_groups] += top_own.sum() / k
        per_group[groups[i]] += strict[:k].mean()
        same_at_k.append(top_own.mean())
    counts = np.bincount(groups[data.queries], minlength=n_groups).astype(np.float64)
    return Evaluation(
        strict=metrics_from_relevance(strict_relevance, k),
        lenient=metrics_from_relevance(lenient_relevance, k),
        same_source_at_k=float(np.mean(same_at_k)),
        per_group=per_group / counts,
        confusion=confusion / counts[:, None],
    )


def random_baseline(data: LabelledSet, k: int, seed: int = 0) -> tuple[dict[str, float], float]:
    """Strict metrics of random rankings (simulated) and the exact expected P@k: the share of
    relevant images (same group, another source) among the n − 1 others."""
    rng = np.random.default_rng(seed)
    n = len(data)
    sources = data.sources if data.sources is not None else np.arange(n)
    relevance, shares = [], []
    for i in data.queries:
        others = np.delete(np.arange(n), i)
        rel = (data.groups[others] == data.groups[i]) & (sources[others] != sources[i])
        shares.append(rel.mean() if len(rel) else 0.0)
        relevance += [rng.permutation(rel) for _ in range(RANDOM_PERMUTATIONS)]
    return metrics_from_relevance(relevance, k), float(np.mean(shares))


# --- albums ---------------------------------------------------------------------------------------

MONOCHROME = frozenset({"black & white", "sepia-toned", "cool-toned monochrome", "near-monochrome"})
COLOURFUL = frozenset(
    {"warm", "cool", "vivid colour", "muted colour", "soft colour", "rich colour", "mixed colour"}
)
OPPOSITE_KEYS = {
    "low-key": "high-key",
    "high-key": "low-key",
    "dark tones": "high-key",
    "light tones": "low-key",
}


def contradicts(name_parts: list[str], own: list[str]) -> bool:
    """Does an album's name say something a member's own attributes deny? Black & white (or
    monochrome) against a colour member and the reverse, low-key against high-key."""
    own_set = set(own)
    is_monochrome = bool(own_set & (MONOCHROME - {"near-monochrome"}))
    for part in name_parts:
        if part in MONOCHROME and not is_monochrome:
            return True
        if part in COLOURFUL and "black & white" in own_set:
            return True
        if OPPOSITE_KEYS.get(part) in own_set:
            return True
    return False


def album_report(data: LabelledSet, matrix: np.ndarray, style: np.ndarray) -> dict:
    """The site's automatic albums over this space (`recommender.clustering.cluster`, automatic
    k, as a re-cluster makes them): adjusted Rand index against the groups, and the share of
    members whose own attributes contradict their album's automatic name."""
    from sklearn.metrics import adjusted_rand_score

    from recommender.clustering import cluster
    from recommender.explain import style_attributes
    from recommender.naming import NAME_SEPARATOR, describe_cluster

    queries = data.queries
    result = cluster(matrix[queries])
    labels = result.labels
    contradicted = 0
    names = []
    for label in np.unique(labels):
        members = queries[labels == label]
        name, _ = describe_cluster(style[members])
        parts = [part.strip().lower() for part in name.split(NAME_SEPARATOR.strip())]
        names.append((name, len(members)))
        contradicted += sum(contradicts(parts, style_attributes(style[i])) for i in members)
    return {
        "k": int(result.k),
        "silhouette": result.silhouette,
        "ari": float(adjusted_rand_score(data.groups[queries], labels)),
        "contradicted_share": contradicted / len(queries),
        "albums": names,
    }


# --- output --------------------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], title: str = "") -> str:
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "-" * len(line(list(headers)))
    out = [title] if title else []
    out += [line(list(headers)), rule, *(line(r) for r in rows)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos_dir", type=Path)
    parser.add_argument("labels_csv", type=Path)
    parser.add_argument(
        "--configs",
        nargs="+",
        default=DEFAULT_CONFIGS,
        metavar="NAME|SPEC",
        help=f"presets ({', '.join(PRESETS)}) or specs like 'mine:style=3,cnn=1,pca=24'",
    )
    parser.add_argument("--k", type=int, default=10, help="cut-off for P@k, mAP@k, nDCG@k")
    parser.add_argument(
        "--cnn-weights",
        help="CNN model file (sets STYLEFINDER_CNN_WEIGHTS); default: the environment's",
    )
    parser.add_argument(
        "--confusion",
        nargs="*",
        default=["default"],
        metavar="NAME",
        help="configs whose confusion summary is printed (default: default, else the first)",
    )
    parser.add_argument(
        "--albums",
        nargs="*",
        default=[],
        metavar="NAME",
        help="configs whose automatic albums are built and scored (ARI against the groups, "
        "names contradicted by members)",
    )
    parser.add_argument("--no-cache", action="store_true", help="do not read/write the .npz cache")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    try:
        configs = [parse_config(text) for text in args.configs]
    except ValueError as exc:
        parser.error(str(exc))

    data = read_labels(args.labels_csv, args.photos_dir)
    if len(data) < 3:
        raise SystemExit("Need at least 3 labelled images.")
    want_cnn = any("cnn" in c.uses or c.settings.look_weight > 0 for c in configs)
    extractors, cnn_reason = load_extractors(args.cnn_weights, want_cnn)
    have = {e.name for e in extractors}
    skipped = [c for c in configs if not set(c.uses) <= have]
    configs = [c for c in configs if set(c.uses) <= have]
    notes = []
    if skipped and cnn_reason:
        notes.append(f"CNN unavailable, skipped {', '.join(c.name for c in skipped)}: {cnn_reason}")

    cache_path = None if args.no_cache else args.labels_csv.with_suffix(".features.npz")
    began = time.perf_counter()
    features, seconds, side = extract_features(args.photos_dir, data.files, extractors, cache_path)
    seconds["features_total"] = time.perf_counter() - began

    from recommender.blocks import cnn_layout, fit_space

    cnn = next((e for e in extractors if e.name == "cnn"), None)
    parts = cnn_layout(cnn) if cnn is not None else None
    signature = cnn.signature if cnn is not None else None
    ids = np.arange(len(data))
    columns = [*data.group_names, SAME_SOURCE]
    results = []
    for config in configs:
        began = time.perf_counter()
        given = {
            name: features[name]
            for name in features
            if name in config.uses or config.settings.look_weight > 0  # the look block reads both
        }
        if config.columns:
            from recommender.features.style import FEATURE_NAMES
            from recommender.space import StyleSpace

            index = [FEATURE_NAMES.index(name) for name in config.columns]
            research = {"research": features["style"][:, index]}
            space = StyleSpace.fit(ids, research, {"research": 1.0})
        else:
            space = fit_space(ids, given, config.settings, parts, cnn_signature=signature)
        fitted = time.perf_counter()
        rankings = rank_all(space)
        ranked = time.perf_counter()
        result = evaluate(data, rankings, args.k)
        albums = (
            album_report(data, space.matrix, features["style"])
            if args.albums and config.name in args.albums
            else None
        )
        results.append(
            {
                "name": config.name,
                "note": config.note,
                "settings": config.settings.as_config(),
                "describe": config.describe(),
                "dim": space.dim,
                "metrics": result.strict,
                "lenient": result.lenient,
                "same_source_at_k": result.same_source_at_k,
                "per_group_p_at_k": dict(
                    zip(data.group_names, result.per_group.tolist(), strict=True)
                ),
                "confusion": {
                    g: dict(zip(columns, row.tolist(), strict=True))
                    for g, row in zip(data.group_names, result.confusion, strict=True)
                },
                "seconds": {"fit": fitted - began, "rank": ranked - fitted},
                "albums": albums,
            }
        )
    baseline, expected_share = random_baseline(data, args.k)
    counts = np.bincount(data.groups[data.queries], minlength=len(data.group_names))
    report = {
        "n_images": len(data),
        "n_distractors": int(len(data) - len(data.queries)),
        "n_groups": len(data.group_names),
        "groups": dict(zip(data.group_names, counts.tolist(), strict=True)),
        "n_sources": None if data.sources is None else int(data.sources.max() + 1),
        "candidates_per_query": len(data) - 1,
        "k": args.k,
        "decode_max_side": side,
        "extractors": {e.name: _extractor_identity(e) for e in extractors},
        "cnn_unavailable": cnn_reason if "cnn" not in have else None,
        "skipped_configs": [c.name for c in skipped],
        "seconds": seconds,
        "random_baseline": {**baseline, f"expected_P@{args.k}": expected_share},
        "configs": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print_report(report, args.confusion, notes)


def print_report(report: dict, confusion_for: list[str], notes: list[str]) -> None:
    k = report["k"]
    names = ["P@5", f"P@{k}", f"mAP@{k}", f"nDCG@{k}", "MRR"]
    groups = report["groups"]
    print(
        f"{report['n_images']} images, {report['n_groups']} groups "
        f"({', '.join(f'{g} {n}' for g, n in groups.items())}), "
        + (
            f"{report['n_distractors']} distractors (no group: candidates, never queries), "
            if report["n_distractors"]
            else ""
        )
        + (
            f"{report['n_sources']} source photos (strict: other images of the query's source "
            "are ranked and count as misses), "
            if report["n_sources"]
            else ""
        )
        + f"{report['candidates_per_query']} candidates per query"
    )
    for name, ident in report["extractors"].items():
        model = f" — {ident['model']}" if "model" in ident else ""
        print(f"  extractor {name}@{ident['version']}: dim {ident['dim']}{model}")
    print(f"  decoded with open_normalized(max_side={report['decode_max_side']})")
    for note in notes:
        print(f"  NOTE: {note}")
    print()

    rows = []
    for r in report["configs"]:
        rows.append(
            [
                r["name"] + (f" ({r['note']})" if r["note"] == "site default" else ""),
                r["dim"],
                *(f"{r['metrics'][m]:.3f}" for m in names),
                f"{r['lenient'][f'P@{k}']:.3f}",
                f"{r['same_source_at_k']:.3f}",
                f"{r['seconds']['fit'] * 1000:.0f}",
                f"{r['seconds']['rank'] * 1000:.0f}",
            ]
        )
    base = report["random_baseline"]
    rows.append(["random ranking", "-", *(f"{base[m]:.3f}" for m in names), "", "", "", ""])
    headers = ["config", "dim", *names, f"P@{k} lenient", f"own@{k}", "fit ms", "rank ms"]
    print(format_table(headers, rows, title=f"Retrieval quality (k={k}; strict unless marked)"))
    print(
        f"Strict: images of the query's own source photo count as misses. Lenient: they are "
        f"dropped from the ranking. own@{k}: share of the top {k} that are the query's own "
        f"source photo in another look. Random: expected P@{k} = share of relevant candidates = "
        f"{base[f'expected_P@{k}']:.3f}; other random metrics from {RANDOM_PERMUTATIONS} seeded "
        "permutations per query."
    )
    for r in report["configs"]:
        print(f"  {r['name']}: {r['describe']}")
    secs = report["seconds"]
    parts = [f"{name} {value:.1f} s" for name, value in secs.items()]
    n = report["n_images"]
    rates = [
        f"{name[8:]} {n / value:.1f} img/s"
        for name, value in secs.items()
        if name.startswith("extract_") and value > 0
    ]
    print(f"Feature timings: {', '.join(parts)}" + (f" ({', '.join(rates)})" if rates else ""))
    print()

    group_names = list(groups)
    rows = [
        [g, *(f"{r['per_group_p_at_k'][g]:.2f}" for r in report["configs"])] for g in group_names
    ]
    print(
        format_table(
            ["group", *(r["name"] for r in report["configs"])],
            rows,
            title=f"Strict P@{k} by query group",
        )
    )
    album_rows = [
        [
            r["name"],
            r["albums"]["k"],
            f"{r['albums']['silhouette']:.2f}" if r["albums"]["silhouette"] is not None else "-",
            f"{r['albums']['ari']:.3f}",
            f"{r['albums']['contradicted_share']:.3f}",
        ]
        for r in report["configs"]
        if r.get("albums")
    ]
    if album_rows:
        print()
        print(
            format_table(
                ["config", "albums (auto k)", "silhouette", "ARI vs groups", "name contradicted"],
                album_rows,
                title="Automatic albums: agreement with the groups; share of members whose own "
                "attributes contradict their album's name",
            )
        )
        for r in report["configs"]:
            if r.get("albums"):
                listed = "; ".join(f"{name} ({n})" for name, n in r["albums"]["albums"])
                print(f"  {r['name']}: {listed}")
    by_name = {r["name"]: r for r in report["configs"]}
    wanted = [name for name in confusion_for if name in by_name]
    if not wanted and report["configs"] and confusion_for:
        wanted = [report["configs"][0]["name"]]
    for name in wanted:
        r = by_name[name]
        print()
        columns = [*group_names, SAME_SOURCE]
        rows = []
        for g in group_names:
            row = r["confusion"][g]
            worst = max((h for h in columns if h != g), key=lambda h: row[h])
            rows.append([g, *(f"{row[h]:.2f}" for h in columns), f"{worst} {row[worst]:.2f}"])
        print(
            format_table(
                ["query group →", *(c[:8] for c in columns), "most confused with"],
                rows,
                title=f"Confusion summary for {name} ({r['describe']}): share of each group's "
                f"top-{k} from each group, '{SAME_SOURCE}' = the query's own source photo in "
                f"another look (rows sum to 1; diagonal = strict P@{k})",
            )
        )


if __name__ == "__main__":
    main()
