"""python manage.py experiment_report [--experiment ID | --all] [--json]: what the A/B test
measured (see experiments/report.py for every definition)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from experiments.formatting import (
    CONFIDENCE_LABEL,
    RANKING_COLUMNS,
    format_comparison,
    format_ranking,
    format_variant,
    screening_notes,
)
from experiments.models import Experiment
from experiments.selectors import default_experiment, experiment_report


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
    for note in screening_notes(report):
        out.append(("WARNING: " if note["warning"] else "") + note["text"])
    out.append("")
    out.append(f"Variants ({CONFIDENCE_LABEL} confidence intervals in brackets)")
    rows = []
    for v in report["variants"]:
        shown = format_variant(v)
        rows.append(
            [
                v["name"],
                v["strategy"],
                str(v["visitors"]),
                str(v["visits"]),
                str(v["impressions"]),
                str(v["clicks"]),
                f"{shown['ctr']} {shown['ctr_ci']}",
                f"{shown['ctp']} {shown['ctp_ci']}",
                f"{shown['clicks_per_visit']} {shown['clicks_per_visit_ci']}",
                f"{shown['seconds_per_visit']} {shown['seconds_per_visit_ci']}",
            ]
        )
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
            shown = format_comparison(c)
            spv = shown["business"]["seconds_per_visit"]
            rows.append(
                [
                    f"{c['b']} vs {c['a']}",
                    f"{shown['uplift']} {shown['uplift_ci']}",
                    f"{shown['difference']} {shown['difference_ci']}",
                    shown["p_value"] + (" *" if c.get("significant") else ""),
                    f"{spv['difference']} (p {spv['p_value']})",
                ]
            )
        out += table(["comparison", "uplift", "difference", "p-value", "Δ seconds/visit"], rows)
        out.append("  * p < 0.05")
    else:
        out.append("  (needs at least two variants)")
    out.append("")
    out.append("Ranking (impressions with a click; AUC and MAE/RMSE over all shown items)")
    rows = [
        [name, str(metrics.get("impressions_evaluated", 0)), *format_ranking(metrics)]
        for name, metrics in report["ranking"].items()
    ]
    if rows:
        out += table(["variant", "lists", *(key for key, _ in RANKING_COLUMNS)], rows)
    return "\n".join(out)


class Command(BaseCommand):
    help = (
        "Report an A/B experiment: per variant impressions, clicks, CTR and click-through "
        f"probability with {CONFIDENCE_LABEL} intervals, comparisons with p-values, ranking "
        "metrics. Default: the active experiment, or all events when none is active."
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
