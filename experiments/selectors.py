"""Database reads of the experiments app: the event tables into `EventData`, the experiment's
facts, the default experiment, and `experiment_report`, the one call behind the admin dashboard,
the `experiment_report` command and `GET /api/metrics/`."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from .models import Click, Experiment, Impression, PageTime
from .report import EventData, build_report, string_array
from .statistics import json_safe


def suspicious_clients(experiment=None) -> list[str]:
    """Client hashes (addresses, keyed) behind more visitor ids than a household or an office
    has (`STYLEFINDER_AB_MAX_VISITORS_PER_ADDRESS`) in `experiment`'s events: one machine
    minting visitors to steer a variant. Their events are left out of the report."""
    rows = Impression.objects.order_by().exclude(client="")
    times = PageTime.objects.order_by().exclude(client="")
    if experiment is not None:
        rows, times = rows.filter(experiment=experiment), times.filter(experiment=experiment)
    visitors: dict[str, set[str]] = {}
    for table in (rows, times):
        for client, visitor in table.values_list("client", "visitor_id").distinct():
            visitors.setdefault(client, set()).add(visitor)
    limit = int(settings.STYLEFINDER_AB_MAX_VISITORS_PER_ADDRESS)
    return sorted(client for client, ids in visitors.items() if len(ids) > limit)


def screening(experiment, clients: list[str]) -> dict:
    """What `load_events` leaves out for `clients` (`suspicious_clients`), for the report: the
    rule and the events it caught."""
    impressions = Impression.objects.filter(client__in=clients)
    clicks = Click.objects.filter(client__in=clients)
    times = PageTime.objects.filter(client__in=clients)
    if experiment is not None:
        impressions = impressions.filter(experiment=experiment)
        clicks = clicks.filter(impression__experiment=experiment)
        times = times.filter(experiment=experiment)
    return {
        "max_visitors_per_address": int(settings.STYLEFINDER_AB_MAX_VISITORS_PER_ADDRESS),
        "addresses": len(clients),
        "visitors": impressions.aggregate(n=Count("visitor_id", distinct=True))["n"] or 0,
        "impressions": impressions.count(),
        "clicks": clicks.count(),
        "page_times": times.count(),
    }


def load_events(experiment=None, exclude_clients: list[str] | None = None) -> EventData:
    """Read the event tables of `experiment` (all events when None) into `EventData`, without
    the events of `exclude_clients` (`suspicious_clients`).

    Four queries: experiment variants, impressions (with their items), clicks, page times summed
    per visit in the database. Events of a variant name the experiment no longer has are kept and
    reported after its variants.
    """
    impressions = Impression.objects.order_by("id")
    clicks = Click.objects.order_by()
    times = PageTime.objects.order_by()
    if experiment is not None:
        impressions = impressions.filter(experiment=experiment)
        clicks = clicks.filter(impression__experiment=experiment)
        times = times.filter(experiment=experiment)
    if exclude_clients:
        impressions = impressions.exclude(client__in=exclude_clients)
        clicks = clicks.exclude(client__in=exclude_clients)
        times = times.exclude(client__in=exclude_clients)

    rows = list(
        impressions.annotate(day=TruncDate("created_at")).values_list(
            "id", "variant", "strategy", "visitor_id", "visit_id", "day", "items"
        )
    )
    data = EventData()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    data.imp_variant = string_array([r[1] for r in rows])
    data.imp_strategy = string_array([r[2] for r in rows])
    data.imp_visitor = string_array([r[3] for r in rows])
    data.imp_visit = string_array([r[4] for r in rows])
    data.imp_day = np.array([r[5] for r in rows], dtype="datetime64[D]")
    data.set_items([r[6] if isinstance(r[6], list) else [] for r in rows])

    click_rows = list(clicks.values_list("impression_id", "position", "visitor_id", "visit_id"))
    click_ids = np.fromiter((r[0] for r in click_rows), dtype=np.int64, count=len(click_rows))
    index = np.searchsorted(ids, click_ids)
    known = np.zeros(click_ids.size, dtype=bool)
    if ids.size:  # ids are sorted: a click's impression is where searchsorted lands
        known = ids[np.minimum(index, ids.size - 1)] == click_ids
    data.click_impression = index[known].astype(np.int64)
    data.click_position = np.fromiter(
        (r[1] for r in click_rows), dtype=np.int64, count=len(click_rows)
    )[known]
    data.click_visitor = string_array([r[2] for r in click_rows])[known]
    data.click_visit = string_array([r[3] for r in click_rows])[known]

    visit_rows = list(
        times.values("variant", "visitor_id", "visit_id")
        .annotate(total=Sum("seconds"))
        .values_list("variant", "visitor_id", "visit_id", "total")
    )
    data.set_times([r[:3] for r in visit_rows], [r[3] or 0.0 for r in visit_rows])

    observed = data.observed_variants()
    if experiment is None:
        data.variants = observed
    else:
        declared = [(v.name, v.strategy) for v in experiment.variants.order_by("id")]
        names = {name for name, _ in declared}
        data.variants = declared + [(n, s) for n, s in observed if n not in names]
    return data


def experiment_info(experiment) -> dict | None:
    """The experiment's facts for the report (None for None): dates, state, variants."""
    if experiment is None:
        return None
    return json_safe(
        {
            "id": experiment.pk,
            "name": experiment.name,
            "description": experiment.description,
            "is_active": experiment.is_active,
            "is_running": experiment.is_running(),
            "starts_at": experiment.starts_at.isoformat() if experiment.starts_at else None,
            "ends_at": experiment.ends_at.isoformat() if experiment.ends_at else None,
            "variants": [
                {"name": v.name, "strategy": v.strategy, "weight": v.weight}
                for v in experiment.variants.order_by("id")
            ],
        }
    )


def default_experiment():
    """The active experiment (running or not), or None: the report then covers all events."""
    return Experiment.objects.filter(is_active=True).first()


def experiment_report(experiment=None) -> dict:
    """The JSON-safe report for `experiment` (an Experiment or its id); None: all events.

    `build_report` of the events `load_events` reads, with `experiment_info` as its
    "experiment" (the shape and every definition: `experiments.report`), and "screened": the
    traffic left out (`screening`).
    """
    if experiment is not None and not hasattr(experiment, "pk"):
        experiment = Experiment.objects.get(pk=experiment)
    clients = suspicious_clients(experiment)
    report = build_report(load_events(experiment, clients), experiment_info(experiment))
    report["screened"] = screening(experiment, clients)
    return report
