"""`python manage.py simulate_traffic`: simulated visitors browse the site and click
recommendations, through the real views and `POST /api/events/` (see experiments.simulation)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from tqdm import tqdm

from experiments.assignment import forced_strategy
from experiments.simulation import (
    PREFERENCES,
    SimulationError,
    Simulator,
    activate_experiment,
    create_experiment,
)


class Command(BaseCommand):
    help = (
        "Simulate visitors who browse photo pages, see the recommendations of their A/B variant "
        "and click them (preference 'style': more often the closer the style; 'none': flat), "
        "through the real views and event endpoint. Reproducible for a --seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--visitors", type=int, default=200, metavar="N")
        parser.add_argument("--preference", choices=PREFERENCES, default="style")
        parser.add_argument("--seed", type=int, default=0, metavar="S")
        parser.add_argument(
            "--max-pages",
            type=int,
            default=5,
            metavar="P",
            help="Pages a visitor sees at most (it goes on only by clicking). Default 5.",
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--experiment",
            type=int,
            metavar="ID",
            help="Activate this experiment (deactivating the current one) before simulating.",
        )
        group.add_argument(
            "--create-experiment",
            metavar="STRATEGIES",
            help="Create and activate an experiment with these strategies as equally weighted "
            "variants, e.g. random,style_knn (deactivates the current one). Name the control "
            "first: experiment_report compares in this order.",
        )
        parser.add_argument("--quiet", action="store_true", help="No progress, only the summary.")
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")

    def handle(self, *args, **options):
        if options["visitors"] < 0:
            raise CommandError("--visitors must be 0 or more.")
        if options["max_pages"] < 1:
            raise CommandError("--max-pages must be 1 or more.")
        try:
            if options["create_experiment"]:
                strategies = [s.strip() for s in options["create_experiment"].split(",")]
                experiment = create_experiment([s for s in strategies if s])
                self._say(
                    options,
                    f"Created and activated experiment {experiment.pk} “{experiment.name}”.",
                )
            elif options["experiment"] is not None:
                experiment = activate_experiment(options["experiment"])
                self._say(options, f"Experiment {experiment.pk} “{experiment.name}” is active.")
            forced = forced_strategy()
            if forced:
                self.stderr.write(
                    f"STYLEFINDER_AB_VARIANT={forced}: every visitor sees '{forced}', "
                    "whatever the experiment."
                )
            with progress_reporter(
                self.stderr, options["visitors"], off=options["quiet"] or options["json"]
            ) as progress:
                simulator = Simulator(
                    visitors=options["visitors"],
                    preference=options["preference"],
                    seed=options["seed"],
                    max_pages=options["max_pages"],
                    progress=progress,
                )
                result = simulator.run()
        except SimulationError as exc:
            raise CommandError(str(exc)) from exc

        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
            return
        experiment = (
            f"experiment {result.experiment_id} “{result.experiment_name}”"
            if result.experiment_id
            else "no running experiment (everyone gets the default or forced variant)"
        )
        self.stdout.write(
            f"Simulated {result.visitors} visitors (preference {result.preference}, "
            f"seed {result.seed}) in {result.seconds:.1f} s against {experiment}."
        )
        self.stdout.write(
            f"{result.page_views} page views, {result.impressions} impressions, "
            f"{result.clicks} clicks."
        )
        if result.flat_rate is not None:
            self.stdout.write(
                f"No preference: every item is clicked with {result.flat_rate:.2%} at position 1 "
                "(the style model's gallery-wide mean), less further down."
            )
        self.stdout.write(result.table())
        if result.rejected or result.page_errors or result.pages_without_token:
            self.stderr.write(
                f"Rejected events: {result.rejected or 0}; page errors: {result.page_errors}; "
                f"pages with a list but no impression token: {result.pages_without_token}."
            )

    def _say(self, options, message: str) -> None:
        if not options["json"]:
            self.stdout.write(message)


@contextmanager
def progress_reporter(
    stream: OutputWrapper, total: int, *, off: bool = False
) -> Iterator[Callable[[int, int], None] | None]:
    """The simulator's `progress` callback: a tqdm bar when `stream` is a terminal, otherwise (a
    log, a pipe) one line "N/total visitors" every tenth of the run and at the end."""
    if off or total <= 0:
        yield None
    elif stream.isatty():
        # The wrapped stream itself: the wrapper would end every redraw with a newline.
        with tqdm(total=total, unit="visitor", file=stream._out, dynamic_ncols=True) as bar:
            yield lambda done, _total: bar.update(done - bar.n)
    else:
        step = max(1, total // 10)

        def report(done: int, total: int) -> None:
            if done % step == 0 or done == total:
                stream.write(f"{done}/{total} visitors")
                stream.flush()

        yield report
