"""Database reads of the experiments app: the event tables into `EventData`, the experiment's
facts, the default experiment, and `experiment_report`, the one call behind the admin dashboard,
the `experiment_report` command and `GET /api/metrics/`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from .models import Click, Experiment, Impression, PageTime
from .report import EventData, build_report, string_array
from .statistics import json_safe


def suspicious_clients(experiment=None) -> list[str]:
    """Client hashes (addresses, keyed) behind more visitor ids than a household or an office
    has (`STYLEFINDER_AB_MAX_VISITORS_PER_ADDRESS`) in `experiment`'s events: one machine
    minting visitors to steer a variant."""
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


def fast_clicking_visitors(experiment=None) -> QuerySet:
    """Visitor ids (a subquery) with a click sooner after its list was issued than a person
    can see a page and click (`STYLEFINDER_AB_MIN_CLICK_MS`): a script posting the events."""
    limit = int(settings.STYLEFINDER_AB_MIN_CLICK_MS) / 1000
    clicks = Click.objects.order_by().filter(seconds_to_click__lt=limit)
    if experiment is not None:
        clicks = clicks.filter(impression__experiment=experiment)
    return clicks.values("visitor_id")


def implausible_dwelling_visitors(experiment=None) -> QuerySet:
    """Visitor ids (a subquery) that claimed more time on a page than the page had existed."""
    times = PageTime.objects.order_by().filter(implausible=True)
    if experiment is not None:
        times = times.filter(experiment=experiment)
    return times.values("visitor_id")


@dataclass(frozen=True)
class Screen:
    """The traffic a report leaves out, by rule: every event of an address behind too many
    visitor ids, and every event of a visitor who clicked faster than a person or claimed an
    impossible time on a page."""

    clients: list[str]
    fast_clickers: QuerySet
    implausible_dwellers: QuerySet

    @classmethod
    def of(cls, experiment=None) -> Screen:
        return cls(
            suspicious_clients(experiment),
            fast_clicking_visitors(experiment),
            implausible_dwelling_visitors(experiment),
        )

    def caught(self) -> Q:
        """The screened events of any event table (each has `client` and `visitor_id`)."""
        return (
            Q(client__in=self.clients)
            | Q(visitor_id__in=self.fast_clickers)
            | Q(visitor_id__in=self.implausible_dwellers)
        )


def screening(experiment, screen: Screen) -> dict:
    """What `load_events` leaves out for `screen`, for the report: the rules, what each caught,
    and the events left out (every visitor once, whichever rules caught it)."""
    impressions = Impression.objects.order_by().filter(screen.caught())
    clicks = Click.objects.order_by().filter(screen.caught())
    times = PageTime.objects.order_by().filter(screen.caught())
    if experiment is not None:
        impressions = impressions.filter(experiment=experiment)
        clicks = clicks.filter(impression__experiment=experiment)
        times = times.filter(experiment=experiment)
    visitors = set(impressions.values_list("visitor_id", flat=True).distinct())
    visitors |= set(times.values_list("visitor_id", flat=True).distinct())
    return {
        "max_visitors_per_address": int(settings.STYLEFINDER_AB_MAX_VISITORS_PER_ADDRESS),
        "min_click_seconds": int(settings.STYLEFINDER_AB_MIN_CLICK_MS) / 1000,
        "addresses": len(screen.clients),
        "fast_clickers": screen.fast_clickers.distinct().count(),
        "implausible_dwellers": screen.implausible_dwellers.distinct().count(),
        "visitors": len(visitors),
        "impressions": impressions.count(),
        "clicks": clicks.count(),
        "page_times": times.count(),
    }


def load_events(experiment=None, screen: Screen | None = None) -> EventData:
    """Read the event tables of `experiment` (all events when None) into `EventData`, without
    the events `screen` catches.

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
    if screen is not None:
        impressions = impressions.exclude(screen.caught())
        clicks = clicks.exclude(screen.caught())
        times = times.exclude(screen.caught())

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
    screen = Screen.of(experiment)
    report = build_report(load_events(experiment, screen), experiment_info(experiment))
    report["screened"] = screening(experiment, screen)
    return report
