"""python manage.py experiment_report [--experiment ID | --all] [--json]: what the A/B test
measured (see recommender/metrics.py for every definition)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from experiments.metrics import default_experiment, experiment_report
from experiments.models import Experiment

RANKING_KEYS = [
    "precision@5",
    "recall@5",
    "precision@10",
    "recall@10",
    "mrr",
    "ndcg@10",
    "roc_auc",
    "mae",
    "rmse",
]


def _num(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value, digits: int = 2, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * 100:{'+' if signed else ''}.{digits}f}%"


def _ci(interval, digits: int = 4, percent: bool = False, signed: bool = False) -> str:
    if not interval:
        return "[–]"
    low, high = interval
    if percent:
        return f"[{_pct(low, digits, signed)}, {_pct(high, digits, signed)}]"
    return f"[{_num(low, digits)}, {_num(high, digits)}]"


def _p(value) -> str:
    if value is None:
        return "–"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Plain text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells):
        return "  ".join(
            str(cell).ljust(width) if index == 0 else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def render_text(report: dict) -> str:
    out: list[str] = []
    experiment = report["experiment"]
    if experiment:
        state = (
            "running"
            if experiment["is_running"]
            else ("active, outside its dates" if experiment["is_active"] else "inactive")
        )
        out.append(f"Experiment {experiment['id']}: {experiment['name']} ({state})")
    else:
        out.append("All events (no experiment selected or active)")
    out.append("")
    out.append("Variants (95 % confidence intervals in brackets)")
    rows = [
        [
            v["name"],
            v["strategy"],
            str(v["visitors"]),
            str(v["visits"]),
            str(v["impressions"]),
            str(v["clicks"]),
            f"{_num(v['ctr'])} {_ci(v['ctr_ci'])}",
            f"{_pct(v['ctp'])} {_ci(v['ctp_ci'], 2, percent=True)}",
            f"{_num(v['clicks_per_visit'], 3)} {_ci(v['clicks_per_visit_ci'], 3)}",
            f"{_num(v['seconds_per_visit'], 1)} {_ci(v['seconds_per_visit_ci'], 1)}",
        ]
        for v in report["variants"]
    ]
    headers = [
        "variant",
        "strategy",
        "visitors",
        "visits",
        "impr.",
        "clicks",
        "CTR",
        "CTP",
        "clicks/visit",
        "seconds/visit",
    ]
    out += table(headers, rows) if rows else ["  (no variants and no events)"]
    out.append("")
    out.append("Comparisons (B vs A on click-through probability; two-proportion z-test)")
    if report["comparisons"]:
        rows = []
        for c in report["comparisons"]:
            spv = c.get("seconds_per_visit") or {}
            rows.append(
                [
                    f"{c['b']} vs {c['a']}",
                    f"{_pct(c['uplift'], 1, True)} {_ci(c['uplift_ci'], 1, True, True)}",
                    f"{_pct(c['difference'], 2, True)} {_ci(c['difference_ci'], 2, True, True)}",
                    _p(c["p_value"]) + (" *" if c.get("significant") else ""),
                    f"{_num(spv.get('difference'), 1)} (p {_p(spv.get('p_value'))})",
                ]
            )
        out += table(["comparison", "uplift", "difference", "p-value", "Δ seconds/visit"], rows)
        out.append("  * p < 0.05")
    else:
        out.append("  (needs at least two variants)")
    out.append("")
    out.append("Ranking (impressions with a click; AUC and MAE/RMSE over all shown items)")
    rows = [
        [name, str(metrics.get("impressions_evaluated", 0))]
        + [_num(metrics.get(key)) for key in RANKING_KEYS]
        for name, metrics in report["ranking"].items()
    ]
    if rows:
        out += table(["variant", "lists", *RANKING_KEYS], rows)
    return "\n".join(out)


class Command(BaseCommand):
    help = (
        "Report an A/B experiment: per variant impressions, clicks, CTR and click-through "
        "probability with 95 % intervals, comparisons with p-values, ranking metrics. Default: "
        "the active experiment, or all events when none is active."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--experiment", type=int, help="The experiment's id.")
        group.add_argument("--all", action="store_true", help="All events, any experiment.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        experiment = options.get("experiment")
        if experiment is not None:
            try:
                chosen = Experiment.objects.get(pk=experiment)
            except Experiment.DoesNotExist as exc:
                raise CommandError(f"There is no experiment {experiment}.") from exc
        elif options.get("all"):
            chosen = None
        else:
            chosen = default_experiment()
        report = experiment_report(chosen)
        if options.get("json"):
            self.stdout.write(json.dumps(report, indent=2, allow_nan=False))
        else:
            self.stdout.write(render_text(report))
