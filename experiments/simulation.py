"""Simulated visitors for the A/B framework: they browse the real site and click recommendations.

Every visitor is a `WSGIClient` of its own (experiments.wsgi_client: requests to the site's WSGI
application in this process, with the visitor's own cookies, hence its own assignment) with a
browser's User-Agent. It does what a browser running the site's JavaScript does:

1. lands on a random public photo page (GET, the real view and template);
2. reads the "Similar style" section from the HTML: `data-variant`, the signed `data-impression`
   token and the recommendation links (`data-position`, `data-photo`, `href`);
3. posts the impression (`POST /api/events/ {"type": "impression", "token"}`) when a list is shown;
4. decides whether to click, scanning the list top to bottom (`ClickModel`): with preference
   `style` an item is more attractive the closer its TRUE style is to the photo on screen (the dot
   product of the two photos' rows in the active run's space, whatever the variant's own scores),
   with preference `none` every item is equally attractive;
5. posts the click(s), then the time on page (`{"type": "dwell"}`, longer when it clicked,
   `DwellModel`), and follows the first clicked link: another page, another impression, ... for at
   most `max_pages` pages.

Everything random comes from one `random.Random(seed)`, passed around, never the global `random`:
the visitors' cookie ids (so their assignments), landing photos, clicks and dwell times, and the
`random` variant's lists. Those are drawn by the site while it answers the simulator's requests,
from a generator spawned from the seed that the simulator hands to the strategies in-process
(`experiments.strategies.drawing_from`; no request can choose it, and outside the simulator the
lists come from the operating system's randomness). The same seed on the same database gives the
same events.

Clicks of one impression are independent of everything else given the list and the positions: no
visitor is "clickier" than another. Under preference `none` the click probability of an item
depends on its position only, so two variants that show lists of the same length have exactly the
same click-through probability, and a correct two-proportion test is significant at p < 0.05 in
5 % of runs.
"""

from __future__ import annotations

import html
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from django.conf import settings
from django.core.servers.basehttp import get_internal_wsgi_application
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from photos.models import Photo
from recommender.selectors import active_run, space_cache
from recommender.services import recluster, recluster_if_stale
from recommender.space import StyleSpace

from . import clock
from .assignment import assign, forced_strategy, running_experiment
from .models import Experiment, Strategy, Variant
from .strategies import drawing_from
from .visitors import VISIT_COOKIE, VISITOR_COOKIE, signed
from .wsgi_client import WSGIApp, WSGIClient

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PREFERENCES = ("style", "none")
#: when a simulated visitor clicks, after its page came: a person's pace (experiments.clock)
CLICK_AFTER_SECONDS = 2.0
EXACT_FLAT_RATE_MAX_PHOTOS = 2000  # above this the gallery-wide mean is estimated from a sample
FLAT_RATE_SAMPLE = 200_000


class SimulationError(RuntimeError):
    """The simulation cannot run (no public photos, bad options)."""


# --- Click and dwell models ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClickModel:
    """How likely a visitor is to click the item at `position` (1-based) of a list.

    `style`: p = min(cap, base + slope * max(0, similarity)) * decay ** (position - 1), where
    similarity is the true style similarity of the shown photo to the photo on screen (cosine,
    -1...1). `none`: p = flat * decay ** (position - 1), with `flat` the mean attractiveness the
    `style` visitor gives a pair of distinct gallery photos drawn uniformly (`with_flat_rate`),
    i.e. what a `style` visitor gives a random list: the same average rate, without preference.

    The visitor scans the list top to bottom and clicks each item with its probability; after a
    click it keeps scanning (opening more in new tabs) with probability `keep_scanning`, otherwise
    it stops and follows the first link it clicked.
    """

    preference: str = "style"
    base: float = 0.02
    slope: float = 0.06
    cap: float = 0.5
    decay: float = 0.85
    keep_scanning: float = 0.2
    flat: float = 0.03

    def __post_init__(self):
        if self.preference not in PREFERENCES:
            raise SimulationError(f"preference must be one of {', '.join(PREFERENCES)}")

    def attraction(self, similarity: float) -> float:
        """The click probability at position 1."""
        if self.preference == "none":
            return self.flat
        return min(self.cap, self.base + self.slope * max(0.0, float(similarity)))

    def probability(self, similarity: float, position: int) -> float:
        return self.attraction(similarity) * self.decay ** (max(1, int(position)) - 1)

    def with_flat_rate(self, space: StyleSpace | None, seed: int = 0) -> ClickModel:
        """This model with `flat` set to the gallery-wide mean attractiveness of the style model."""
        style = ClickModel(**{**asdict(self), "preference": "style"})
        if space is None or len(space) < 2:
            return ClickModel(**{**asdict(self), "flat": style.attraction(0.0)})
        matrix = space.matrix
        n = len(space)
        if n <= EXACT_FLAT_RATE_MAX_PHOTOS:
            sims = (matrix @ matrix.T)[~np.eye(n, dtype=bool)]
        else:
            rng = np.random.default_rng(seed)
            a = rng.integers(0, n, FLAT_RATE_SAMPLE)
            b = (a + rng.integers(1, n, FLAT_RATE_SAMPLE)) % n  # never a itself
            sims = np.einsum("ij,ij->i", matrix[a], matrix[b])
        rates = np.minimum(style.cap, style.base + style.slope * np.maximum(0.0, sims))
        return ClickModel(**{**asdict(self), "flat": float(rates.mean())})


@dataclass(frozen=True)
class DwellModel:
    """Seconds on a page: log-normal, with a longer median when the visitor clicked there."""

    median: float = 12.0
    clicked_median: float = 35.0
    sigma: float = 0.8
    max_seconds: float = 1800.0

    def sample(self, rng: random.Random, clicked: bool) -> float:
        median = self.clicked_median if clicked else self.median
        return round(min(self.max_seconds, rng.lognormvariate(math.log(median), self.sigma)), 2)


# --- Reading a page ------------------------------------------------------------------------------

_TAG_WITH_TOKEN = re.compile(r"<[a-zA-Z][^>]*\sdata-impression=\"([^\"]*)\"[^>]*>")
_VARIANT = re.compile(r"\sdata-variant=\"([^\"]*)\"")
_PAGE_VIEW = re.compile(r"\sdata-page-view=\"([^\"]+)\"")
_LINK = re.compile(r"<a\s[^>]*\sdata-position=\"[^>]*>")
_ATTRIBUTE = re.compile(r"([\w:-]+)=\"([^\"]*)\"")
_SECTION_START = 'id="similar"'


@dataclass(frozen=True)
class ShownItem:
    photo: int
    position: int
    href: str


@dataclass(frozen=True)
class PageInfo:
    """What the page's JavaScript reads from a photo page."""

    variant: str | None
    token: str | None
    items: tuple[ShownItem, ...]
    page_view: str | None


def parse_page(text: str) -> PageInfo:
    """The recommendation section of a photo page, with regular expressions (cheap and enough)."""
    match = _TAG_WITH_TOKEN.search(text)
    token = html.unescape(match.group(1)) if match and match.group(1) else None
    start = match.start() if match else text.find(_SECTION_START)
    items: list[ShownItem] = []
    variant = None
    if start >= 0:
        section_start = text.rfind("<section", 0, start + 1)
        section_start = section_start if section_start >= 0 else start
        end = text.find("</section>", start)
        section = text[section_start : end if end >= 0 else len(text)]
        found = _VARIANT.search(section)
        variant = html.unescape(found.group(1)) if found else None
        for link in _LINK.finditer(section):
            attributes = dict(_ATTRIBUTE.findall(link.group(0)))
            try:
                photo, position = int(attributes["data-photo"]), int(attributes["data-position"])
            except (KeyError, ValueError):
                continue
            items.append(ShownItem(photo, position, html.unescape(attributes.get("href", ""))))
    if variant is None:
        found = _VARIANT.search(text)
        variant = html.unescape(found.group(1)) if found else None
    page_view = _PAGE_VIEW.search(text)
    return PageInfo(variant, token, tuple(items), page_view.group(1) if page_view else None)


# --- Results -------------------------------------------------------------------------------------


@dataclass
class VariantTally:
    visitors: int = 0
    page_views: int = 0
    lists_shown: int = 0  # pages with a token (the browser reports an impression)
    impressions: int = 0  # impression events accepted (204)
    clicked_impressions: int = 0  # impressions with at least one accepted click
    clicks: int = 0
    dwell_events: int = 0
    seconds: float = 0.0

    @property
    def ctp(self) -> float:
        return self.clicked_impressions / self.impressions if self.impressions else 0.0

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0


@dataclass
class SimulationResult:
    visitors: int
    preference: str
    seed: int
    experiment_id: int | None
    experiment_name: str
    seconds: float
    variants: dict[str, VariantTally] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # event type -> non-204 answers
    page_errors: int = 0
    pages_without_token: int = 0  # pages with recommendation links but no impression token
    flat_rate: float | None = None

    @property
    def page_views(self) -> int:
        return sum(t.page_views for t in self.variants.values())

    @property
    def impressions(self) -> int:
        return sum(t.impressions for t in self.variants.values())

    @property
    def clicks(self) -> int:
        return sum(t.clicks for t in self.variants.values())

    def as_dict(self) -> dict:
        return {
            "visitors": self.visitors,
            "preference": self.preference,
            "seed": self.seed,
            "experiment": {"id": self.experiment_id, "name": self.experiment_name},
            "seconds": round(self.seconds, 3),
            "page_views": self.page_views,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "flat_rate": self.flat_rate,
            "variants": {
                name: {**asdict(t), "ctp": t.ctp, "ctr": t.ctr}
                for name, t in sorted(self.variants.items())
            },
            "rejected": self.rejected,
            "page_errors": self.page_errors,
            "pages_without_token": self.pages_without_token,
        }

    def table(self) -> str:
        header = (
            f"{'variant':<14}{'visitors':>9}{'pages':>8}{'impr.':>8}"
            f"{'clicked':>9}{'clicks':>8}{'CTP':>8}{'s/page':>8}"
        )
        lines = [header, "-" * len(header)]
        for name, t in sorted(self.variants.items()):
            per_page = t.seconds / t.dwell_events if t.dwell_events else 0.0
            ctp = f"{t.ctp:.1%}" if t.impressions else "-"
            lines.append(
                f"{name:<14}{t.visitors:>9}{t.page_views:>8}{t.impressions:>8}"
                f"{t.clicked_impressions:>9}{t.clicks:>8}{ctp:>8}{per_page:>8.1f}"
            )
        return "\n".join(lines)


# --- Experiments ---------------------------------------------------------------------------------


def create_experiment(strategies: list[str], name: str = "") -> Experiment:
    """A new active experiment with one equally weighted variant per strategy (the current active
    one is deactivated). A strategy named twice gets a suffix (an A/A test: "random,random")."""
    unknown = [s for s in strategies if s not in Strategy.values]
    if unknown or not strategies:
        raise SimulationError(
            f"Unknown strategies {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(Strategy.values)}."
        )
    names: list[str] = []
    for strategy in strategies:
        candidate, n = strategy, 1
        while candidate in names:
            n += 1
            candidate = f"{strategy}-{n}"
        names.append(candidate)
    with transaction.atomic():
        Experiment.objects.filter(is_active=True).update(is_active=False)
        experiment = Experiment.objects.create(
            name=name or f"Simulated: {' vs '.join(strategies)}",
            description="Created by simulate_traffic.",
            is_active=True,
            starts_at=timezone.now(),
        )
        Variant.objects.bulk_create(
            Variant(experiment=experiment, name=n, strategy=s, weight=1.0)
            for n, s in zip(names, strategies, strict=True)
        )
    return experiment


def activate_experiment(experiment_id: int) -> Experiment:
    """Make `experiment_id` the active experiment (deactivating the current one)."""
    experiment = Experiment.objects.filter(pk=experiment_id).first()
    if experiment is None:
        raise SimulationError(f"There is no experiment {experiment_id}.")
    if not experiment.variants.exists():
        raise SimulationError(f"Experiment {experiment_id} has no variants.")
    with transaction.atomic():
        Experiment.objects.filter(is_active=True).exclude(pk=experiment.pk).update(is_active=False)
        if not experiment.is_active:
            experiment.is_active = True
            experiment.save(update_fields=["is_active"])
    if not experiment.is_running():
        raise SimulationError(
            f"Experiment {experiment_id} is outside its start/end dates; visitors would get "
            "the default variant."
        )
    return experiment


# --- The simulator -------------------------------------------------------------------------------


def _request_host() -> str:
    """A host name the site accepts (ALLOWED_HOSTS)."""
    for host in settings.ALLOWED_HOSTS:
        if host == "*":
            return "localhost"
        host = host.lstrip(".")
        if host and "*" not in host:
            return host
    return "localhost"


def _visitor_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


class Simulator:
    """Runs `visitors` simulated visitors against the site (see the module docstring)."""

    def __init__(
        self,
        *,
        visitors: int,
        preference: str = "style",
        seed: int = 0,
        model: ClickModel | None = None,
        dwell: DwellModel | None = None,
        max_pages: int = 5,
        progress: Callable[[int, int], None] | None = None,
    ):
        if visitors < 0:
            raise SimulationError("visitors must be 0 or more")
        if max_pages < 1:
            raise SimulationError("max_pages must be 1 or more")
        self.visitors = visitors
        self.seed = seed
        self.model = ClickModel(**{**asdict(model or ClickModel()), "preference": preference})
        self.dwell = dwell or DwellModel()
        self.max_pages = max_pages
        self.progress = progress
        self.space: StyleSpace | None = None
        self._similarity_cache: dict[tuple[int, int], float] = {}

    # The true style similarity of two photos (0 when either is outside the active run).
    def similarity(self, a: int, b: int) -> float:
        key = (a, b) if a <= b else (b, a)
        cached = self._similarity_cache.get(key)
        if cached is None:
            space = self.space
            ra = space.row(a) if space is not None else None
            rb = space.row(b) if space is not None else None
            both = ra is not None and rb is not None
            cached = float(space.matrix[ra] @ space.matrix[rb]) if both else 0.0
            self._similarity_cache[key] = cached
        return cached

    def _prepare(self) -> tuple[list[int], dict[int, str]]:
        photos = list(Photo.objects.public().order_by("pk"))
        if not photos:
            raise SimulationError("There are no public photos to visit (try `manage.py demo`).")
        recluster_if_stale()  # the pages would serve an outdated run otherwise
        run = active_run()
        if run is None:
            recluster()
            run = active_run()
        self.space = space_cache.get(run) if run else None
        if self.model.preference == "none":
            self.model = self.model.with_flat_rate(self.space, self.seed)
        return [p.pk for p in photos], {p.pk: p.get_absolute_url() for p in photos}

    def run(self) -> SimulationResult:
        started = time.perf_counter()
        photo_ids, urls = self._prepare()
        experiment = None if forced_strategy() else running_experiment()
        result = SimulationResult(
            visitors=self.visitors,
            preference=self.model.preference,
            seed=self.seed,
            experiment_id=experiment.pk if experiment else None,
            experiment_name=experiment.name if experiment else "",
            seconds=0.0,
            flat_rate=self.model.flat if self.model.preference == "none" else None,
        )
        rng = random.Random(self.seed)
        # The site's own draws (the `random` variant's lists) get a stream of their own, so that
        # the visitors' draws do not shift with the length of the lists.
        site_rng = random.Random(rng.getrandbits(64))
        app = get_internal_wsgi_application()  # settings.WSGI_APPLICATION, what gunicorn serves
        events_url = reverse("api:events")
        host = _request_host()
        secure = not settings.DEBUG
        with drawing_from(site_rng):
            for n in range(self.visitors):
                self._visit(rng, app, photo_ids, urls, events_url, host, secure, result)
                if self.progress is not None:
                    self.progress(n + 1, self.visitors)
        result.seconds = time.perf_counter() - started
        return result

    def _visit(
        self,
        rng: random.Random,
        app: WSGIApp,
        photo_ids: list[int],
        urls: dict[int, str],
        events_url: str,
        host: str,
        secure: bool,
        result: SimulationResult,
    ) -> None:
        visitor_id, visit_id = _visitor_id(rng), _visitor_id(rng)
        # Each visitor from an address of its own (10/8): the site limits and screens traffic
        # per address, and a crowd is many people, not one machine.
        address = "10.{}.{}.{}".format(*(rng.randrange(256) for _ in range(3)))
        client = WSGIClient(
            app,
            host=host,
            secure=secure,
            headers={"User-Agent": USER_AGENT},
            remote_addr=address,
        )
        client.cookies[VISITOR_COOKIE] = signed(visitor_id)  # as the site would issue it
        client.cookies[VISIT_COOKIE] = visit_id

        def post(event: dict) -> bool:
            # The events endpoint takes no session and checks no CSRF token (it is identified by
            # the visitor's cookies and the signed tokens), so a browser's JSON POST is all.
            response = client.post_json(events_url, event)
            if response.status != 204:
                result.rejected[event["type"]] = result.rejected.get(event["type"], 0) + 1
                return False
            return True

        photo = rng.choice(photo_ids)
        url = urls[photo]
        tally: VariantTally | None = None
        for _ in range(self.max_pages):
            response = client.get(url)
            if response.status != 200:
                result.page_errors += 1
                break
            page = parse_page(response.text())
            if tally is None:
                name = page.variant or assign(visitor_id).variant
                tally = result.variants.setdefault(name, VariantTally())
                tally.visitors += 1
            tally.page_views += 1
            clicked: list[ShownItem] = []
            if page.token:
                tally.lists_shown += 1
                if post({"type": "impression", "token": page.token}):
                    tally.impressions += 1
                for item in page.items:
                    p = self.model.probability(self.similarity(photo, item.photo), item.position)
                    if rng.random() < p:
                        clicked.append(item)
                        if rng.random() >= self.model.keep_scanning:
                            break
                accepted = 0
                with clock.advanced(CLICK_AFTER_SECONDS):  # a person's pace, without the wait
                    for item in clicked:
                        event = {
                            "type": "click",
                            "token": page.token,
                            "photo": item.photo,
                            "position": item.position,
                        }
                        accepted += post(event)
                tally.clicks += accepted
                tally.clicked_impressions += accepted > 0
            elif page.items:
                result.pages_without_token += 1  # a list the browser could not report
            seconds = self.dwell.sample(rng, bool(clicked))
            dwell = {"type": "dwell", "page_view": page.page_view, "path": url, "seconds": seconds}
            with clock.advanced(seconds):  # sent when the visitor leaves the page
                sent = bool(page.page_view) and post(dwell)  # the page's own signed page view
            if sent:
                tally.dwell_events += 1
                tally.seconds += seconds
            if not clicked:
                break
            photo = clicked[0].photo
            url = clicked[0].href or urls.get(photo, "")
            if not url:
                break


def simulate(
    visitors: int, preference: str = "style", seed: int = 0, **options
) -> SimulationResult:
    """Run the simulator (see `Simulator` for the options)."""
    return Simulator(visitors=visitors, preference=preference, seed=seed, **options).run()
