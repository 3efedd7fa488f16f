"""End-to-end check of the A/B statistics with simulated traffic (issue 5, item 6).

    python benchmarks/ab_simulation.py [--visitors 2000] [--null-visitors 500] [--seeds 20]
                                       [--seed 1] [--json]

(a) `simulate_traffic --preference style`, 2,000 visitors, experiment random vs style_knn: CTP
    and CTR per variant and the p-value of the two-proportion z-test. Expected: p < 0.05 with
    style_knn ahead.
(b) `simulate_traffic --preference none` (clicks do not depend on style), 20 seeds: the share of
    seeds where the same test says p < 0.05. Expected: about 5 % (not 0 %, not 30 %). 20 seeds is
    a coarse check (Binomial(20, 0.05): 0 significant seeds has probability 36 %), so the script
    also tests the 20 p-values for uniformity (Kolmogorov-Smirnov), which is what a correct test
    gives under the null hypothesis.

The test: a two-sided pooled two-proportion z-test on CTP, the click-through probability (share of
impressions with at least one click; the unit is the impression), computed here directly from the
stored event tables (`recommender_impression`, `recommender_click`) with scipy, and cross-checked
against `experiment_report --json` (experiments.report), which applies the same test.
Impressions are independent here because the simulated visitors have no individual propensity to
click; with real visitors, whose impressions are correlated, a visitor-level test is safer.

How: every run gets a fresh throwaway database. The script builds one template once in a
temporary folder (`migrate`, `demo --no-input`: 72 photos, 8 scenes x 9 looks, style features
only, then `recluster`), copies the SQLite file for each run and runs, in one subprocess per run
with DATABASE_URL pointing at the copy, `simulate_traffic --create-experiment random,style_knn`
and `experiment_report --json`. The real project database and media are never touched.

Runtime on this machine (2 cores): template ~20 s, (a) ~45 s, (b) 20 x 500 visitors ~4-5 min;
about 6 min in all. (b) uses fewer visitors per seed than (a) to stay short: under the null
hypothesis the false-positive rate of the test is alpha whatever N is, as long as the normal
approximation holds (here about 300 impressions and 40 clicked impressions per variant and seed);
N changes the power, which (b) does not measure. `--null-visitors 2000` checks that too (~15 min).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
ALPHA = 0.05
CONTROL, TREATMENT = "random", "style_knn"  # the report compares in this order: control first

# One subprocess per run: the simulation and the report, as `manage.py` would run them.
RUNNER = """
import io, json, sys
import django
django.setup()
from django.core.management import call_command
sim, report = io.StringIO(), io.StringIO()
call_command("simulate_traffic", *sys.argv[1:], "--json", stdout=sim, stderr=io.StringIO())
result = json.loads(sim.getvalue())
call_command("experiment_report", "--experiment", str(result["experiment"]["id"]), "--json",
             stdout=report)
print(json.dumps({"simulation": result, "report": json.loads(report.getvalue())}))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def two_proportion_z_test(x_a: int, n_a: int, x_b: int, n_b: int) -> tuple[float, float]:
    """Two-sided pooled z-test of p_a = p_b: (z for b - a, p-value)."""
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 0.0, 1.0
    z = (x_b / n_b - x_a / n_a) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def wilson(x: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# --- the throwaway databases ---------------------------------------------------------------------


class Sandbox:
    """A temporary folder with a template database and media; a fresh copy per run."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.template = folder / "template.sqlite3"
        self.media = folder / "media"
        self.runs = 0

    def env(self, database: Path) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "STYLEFINDER_", "CELERY_", "REDIS_", "DATABASE_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=f"sqlite:///{database}",
            MEDIA_ROOT=str(self.media),
            STYLEFINDER_EXTRACTORS="style",  # fast; the simulator reads the same style space
            DJANGO_LOG_LEVEL="WARNING",
            DEMO_ADMIN_PASSWORD="benchmark-only",
            PYTHONPATH=str(ROOT),
        )
        return env

    def manage(self, *args: str, database: Path | None = None) -> str:
        command = [sys.executable, str(ROOT / "manage.py"), *args]
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=self.env(database or self.template),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def build(self) -> float:
        started = time.perf_counter()
        self.manage("demo", "--no-input")
        self.manage("recluster")
        return time.perf_counter() - started

    def run(self, preference: str, visitors: int, seed: int) -> dict:
        """simulate_traffic + experiment_report on a fresh copy; returns both and the counts
        read from the copy's event tables."""
        self.runs += 1
        database = self.folder / f"run-{self.runs}.sqlite3"
        shutil.copyfile(self.template, database)
        try:
            args = [
                f"--visitors={visitors}",
                f"--preference={preference}",
                f"--seed={seed}",
                f"--create-experiment={CONTROL},{TREATMENT}",
            ]
            done = subprocess.run(
                [sys.executable, "-c", RUNNER, *args],
                cwd=ROOT,
                env=self.env(database),
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise RuntimeError(f"simulation failed:\n{done.stdout}\n{done.stderr}")
            out = json.loads(done.stdout.strip().splitlines()[-1])
            out["tables"] = read_tables(database, out["simulation"]["experiment"]["id"])
            return out
        finally:
            database.unlink(missing_ok=True)


def read_tables(database: Path, experiment_id: int) -> dict[str, dict[str, int]]:
    """Per variant: impressions, impressions with a click, clicks, visitors (raw SQL)."""
    with sqlite3.connect(database) as db:
        rows: dict[str, dict[str, int]] = {}
        for variant, impressions, visitors in db.execute(
            "SELECT variant, COUNT(*), COUNT(DISTINCT visitor_id) FROM recommender_impression "
            "WHERE experiment_id = ? GROUP BY variant",
            (experiment_id,),
        ):
            rows[variant] = {"impressions": impressions, "visitors": visitors}
        for variant, clicked, clicks in db.execute(
            "SELECT i.variant, COUNT(DISTINCT i.id), COUNT(c.id) FROM recommender_impression i "
            "JOIN recommender_click c ON c.impression_id = i.id "
            "WHERE i.experiment_id = ? GROUP BY i.variant",
            (experiment_id,),
        ):
            rows.setdefault(variant, {"impressions": 0, "visitors": 0})
            rows[variant].update(clicked=clicked, clicks=clicks)
        for row in rows.values():
            row.setdefault("clicked", 0)
            row.setdefault("clicks", 0)
        return rows


# --- the analysis --------------------------------------------------------------------------------


@dataclass
class Test:
    ctp_control: float
    ctp_treatment: float
    z: float
    p: float
    report_p: float | None  # experiment_report's p-value for the same comparison
    consistent: bool  # tables == simulator's own tally == report's counts


def analyse(out: dict) -> Test:
    tables = out["tables"]
    c, t = tables.get(CONTROL), tables.get(TREATMENT)
    if not c or not t:
        raise RuntimeError(f"a variant has no impressions: {tables}")
    z, p = two_proportion_z_test(c["clicked"], c["impressions"], t["clicked"], t["impressions"])
    report = out["report"]
    comparison = next(
        (
            x
            for x in report.get("comparisons", [])
            if (x.get("a"), x.get("b")) == (CONTROL, TREATMENT)
        ),
        None,
    )
    report_p = comparison.get("p_value") if comparison else None
    simulated = out["simulation"]["variants"]
    reported = {v["name"]: v for v in report.get("variants", [])}
    consistent = all(
        simulated[name]["impressions"] == tables[name]["impressions"]
        and simulated[name]["clicks"] == tables[name]["clicks"]
        and simulated[name]["clicked_impressions"] == tables[name]["clicked"]
        and reported.get(name, {}).get("impressions") == tables[name]["impressions"]
        and reported.get(name, {}).get("clicks") == tables[name]["clicks"]
        for name in (CONTROL, TREATMENT)
    )
    if report_p is not None and abs(report_p - p) > 1e-6 * max(1.0, p):
        consistent = False
    return Test(
        c["clicked"] / c["impressions"], t["clicked"] / t["impressions"], z, p, report_p, consistent
    )


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.2e}" if p < 1e-4 else f"{p:.4f}"


def part_a(sandbox: Sandbox, visitors: int, seed: int) -> dict:
    log(f"(a) preference=style, {visitors} visitors, seed {seed} ...")
    started = time.perf_counter()
    out = sandbox.run("style", visitors, seed)
    seconds = time.perf_counter() - started
    test = analyse(out)
    sim = out["simulation"]
    rows = []
    for name in (TREATMENT, CONTROL):
        row = out["tables"][name]
        lo, hi = wilson(row["clicked"], row["impressions"])
        rows.append(
            {
                "variant": name,
                "visitors": sim["variants"][name]["visitors"],
                "page_views": sim["variants"][name]["page_views"],
                "impressions": row["impressions"],
                "clicked": row["clicked"],
                "clicks": row["clicks"],
                "ctp": row["clicked"] / row["impressions"],
                "ctp_ci": [lo, hi],
                "ctr": row["clicks"] / row["impressions"],
                "seconds_per_page": (
                    sim["variants"][name]["seconds"] / sim["variants"][name]["dwell_events"]
                ),
            }
        )
    return {
        "visitors": visitors,
        "seed": seed,
        "rows": rows,
        "z": test.z,
        "p": test.p,
        "report_p": test.report_p,
        "consistent": test.consistent,
        "simulation_seconds": sim["seconds"],
        "seconds": seconds,
        "passed": test.p < ALPHA and test.ctp_treatment > test.ctp_control,
    }


def part_b(sandbox: Sandbox, visitors: int, seeds: list[int]) -> dict:
    runs = []
    started = time.perf_counter()
    for seed in seeds:
        out = sandbox.run("none", visitors, seed)
        test = analyse(out)
        runs.append(
            {
                "seed": seed,
                "ctp_random": test.ctp_control,
                "ctp_style_knn": test.ctp_treatment,
                "impressions": sum(v["impressions"] for v in out["tables"].values()),
                "z": test.z,
                "p": test.p,
                "report_p": test.report_p,
                "consistent": test.consistent,
            }
        )
        log(f"(b) seed {seed}: p = {fmt_p(test.p)}")
    significant = sum(r["p"] < ALPHA for r in runs)
    zs = [r["z"] for r in runs]
    ks = stats.kstest([r["p"] for r in runs], "uniform")
    lo, hi = wilson(significant, len(runs))
    return {
        "visitors": visitors,
        "runs": runs,
        "significant": significant,
        "share": significant / len(runs),
        "share_ci": [lo, hi],
        "binomial_p_exactly": float(stats.binom.pmf(significant, len(runs), ALPHA)),
        "binomial_p_at_most": float(stats.binom.cdf(significant, len(runs), ALPHA)),
        "binomial_p_at_least": float(stats.binom.sf(significant - 1, len(runs), ALPHA)),
        "z_mean": float(np.mean(zs)),
        "z_sd": float(np.std(zs, ddof=1)) if len(zs) > 1 else None,
        "ks_statistic": float(ks.statistic),
        "ks_p": float(ks.pvalue),
        "seconds": time.perf_counter() - started,
        # A broken test would show up as p-values piled up near 0 (too many false positives)
        # or near 1 (a test that can never fire): uniformity is what must hold.
        "passed": ks.pvalue > 0.01 and significant / len(runs) < 0.25,
    }


def print_report(a: dict, b: dict, template_seconds: float, total: float) -> None:
    print("A/B simulation: two-sided pooled two-proportion z-test on CTP")
    print("  CTP = impressions with at least one click / impressions (unit: the impression);")
    print("  computed from the stored event tables with scipy.stats.norm; 'report p' is the")
    print("  p-value of `experiment_report --json` (experiments.report) for the same pair.")
    print()
    print(
        f"(a) --preference style, {a['visitors']} visitors, seed {a['seed']}, random vs style_knn"
    )
    header = (
        f"  {'variant':<10}{'visitors':>9}{'pages':>7}{'impr.':>7}{'clicked':>8}{'clicks':>7}"
        f"{'CTP':>8}  {'95% CI':<15}{'CTR':>7}{'s/page':>8}"
    )
    print(header)
    for r in a["rows"]:
        ci = f"[{r['ctp_ci'][0]:.1%}, {r['ctp_ci'][1]:.1%}]"
        print(
            f"  {r['variant']:<10}{r['visitors']:>9}{r['page_views']:>7}{r['impressions']:>7}"
            f"{r['clicked']:>8}{r['clicks']:>7}{r['ctp']:>8.1%}  {ci:<15}{r['ctr']:>7.3f}"
            f"{r['seconds_per_page']:>8.1f}"
        )
    verdict = "PASS" if a["passed"] else "FAIL"
    print(
        f"  z = {a['z']:.2f}, p = {fmt_p(a['p'])} (report p = {fmt_p(a['report_p'])}): "
        f"{verdict} (expected p < 0.05, style_knn ahead); "
        f"simulation {a['simulation_seconds']:.1f} s"
    )
    print()
    print(
        f"(b) --preference none, {len(b['runs'])} seeds x {b['visitors']} visitors, "
        "random vs style_knn"
    )
    print(
        f"  {'seed':>4}{'impr.':>7}{'CTP random':>12}{'CTP knn':>9}{'z':>7}{'p':>9}{'report p':>10}"
    )
    for r in b["runs"]:
        mark = "  *" if r["p"] < ALPHA else ""
        print(
            f"  {r['seed']:>4}{r['impressions']:>7}"
            f"{r['ctp_random']:>12.1%}{r['ctp_style_knn']:>9.1%}"
            f"{r['z']:>7.2f}{fmt_p(r['p']):>9}{fmt_p(r['report_p']):>10}{mark}"
        )
    lo, hi = b["share_ci"]
    k, n = b["significant"], len(b["runs"])
    tail = (
        f"P(X <= {k}) = {b['binomial_p_at_most']:.2f}"
        if k / n < ALPHA
        else f"P(X >= {k}) = {b['binomial_p_at_least']:.2f}"
    )
    print(
        f"  p < 0.05 in {k}/{n} seeds = {b['share']:.0%} (Wilson 95% CI {lo:.0%}-{hi:.0%}); "
        f"a calibrated test gives X ~ Binomial({n}, 0.05): P(X = {k}) = "
        f"{b['binomial_p_exactly']:.2f}, {tail}"
    )
    if b["z_sd"] is not None:
        print(f"  z over the seeds: mean {b['z_mean']:+.2f}, sd {b['z_sd']:.2f} (null: 0 and 1)")
    print(
        f"  p-values vs uniform(0, 1): Kolmogorov-Smirnov D = {b['ks_statistic']:.3f}, "
        f"p = {b['ks_p']:.2f}: {'PASS' if b['passed'] else 'FAIL'}"
    )
    consistent = a["consistent"] and all(r["consistent"] for r in b["runs"])
    print()
    print(
        "Event tables, simulator tallies and experiment_report agree: "
        f"{'yes' if consistent else 'NO'}"
    )
    print(
        f"Runtime: template {template_seconds:.0f} s, (a) {a['seconds']:.0f} s, "
        f"(b) {b['seconds']:.0f} s, total {total:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=2000, help="(a) visitors (2000)")
    parser.add_argument("--seed", type=int, default=1, help="(a) seed (1)")
    parser.add_argument(
        "--null-visitors", type=int, default=500, help="(b) visitors per seed (500)"
    )
    parser.add_argument("--seeds", type=int, default=20, help="(b) number of seeds (20)")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ab-simulation-") as folder:
        sandbox = Sandbox(Path(folder))
        log(f"Building the template database in {folder} (migrate, demo, recluster) ...")
        template_seconds = sandbox.build()
        a = part_a(sandbox, args.visitors, args.seed)
        b = part_b(sandbox, args.null_visitors, list(range(1, args.seeds + 1)))
    total = time.perf_counter() - started
    if args.json:
        print(json.dumps({"a": a, "b": b, "template_seconds": template_seconds, "seconds": total}))
    else:
        print_report(a, b, template_seconds, total)
    return 0 if a["passed"] and b["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
