"""What the A/B experiments store: experiments, their variants, and the events browsers report.

These tables were created by the recommender app (migration recommender 0004) and moved here
with their names unchanged, so an existing database upgrades with `migrate` and loses nothing.
"""

from __future__ import annotations

from django.db import models

from photos.models import Photo


class Strategy(models.TextChoices):
    """What a variant shows under a photo (experiments/strategies.py)."""

    STYLE_KNN = "style_knn", "Nearest in style"
    CLUSTER = "cluster", "Same album, nearest first"
    POPULAR = "popular", "Most clicked recently"
    RANDOM = "random", "Random photos"
    NONE = "none", "No recommendations"


class Experiment(models.Model):
    """An A/B test: visitors are split between variants by a stable hash of their cookie id."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(
        default=False, help_text="Only one experiment is active at a time."
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "recommender_experiment"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_experiment",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def is_running(self, now=None) -> bool:
        from django.utils import timezone

        now = now or timezone.now()
        return (
            self.is_active
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


class Variant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.SlugField(max_length=40, help_text="Shown in reports, e.g. 'control'.")
    strategy = models.CharField(max_length=20, choices=Strategy.choices)
    weight = models.FloatField(default=1.0, help_text="Share of visitors, relative to the others.")

    class Meta:
        db_table = "recommender_variant"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="unique_variant_name"),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0), name="variant_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.strategy})"


def client_field() -> models.CharField:
    """Every event's `client`: `experiments.events.client_hash` of the address it came from."""
    return models.CharField(
        max_length=16,
        blank=True,
        db_index=True,
        help_text="A keyed hash of the client's address (never the address): screens traffic.",
    )


class Impression(models.Model):
    """A recommendation list a visitor's browser actually showed (reported by JavaScript)."""

    token = models.UUIDField(unique=True)
    visitor_id = models.CharField(max_length=64, db_index=True)
    visit_id = models.CharField(max_length=64, db_index=True, blank=True)
    client = client_field()
    experiment = models.ForeignKey(
        Experiment, on_delete=models.SET_NULL, null=True, blank=True, related_name="impressions"
    )
    variant = models.CharField(max_length=40, db_index=True)
    strategy = models.CharField(max_length=20)
    source = models.CharField(max_length=20, help_text="photo page, upload or widget")
    source_photo = models.ForeignKey(
        Photo, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    items = models.JSONField(default=list, help_text='[{"photo", "position", "score"}, …]')
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "recommender_impression"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"impression {self.token} ({self.variant})"


class Click(models.Model):
    impression = models.ForeignKey(Impression, on_delete=models.CASCADE, related_name="clicks")
    visitor_id = models.CharField(max_length=64, db_index=True)
    visit_id = models.CharField(max_length=64, blank=True)
    client = client_field()
    variant = models.CharField(max_length=40, db_index=True)
    target = models.ForeignKey(Photo, on_delete=models.SET_NULL, null=True, related_name="+")
    position = models.PositiveSmallIntegerField()
    seconds_to_click = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds from the list being issued (page rendered, widget answered) to the "
        "click; faster than a person can click screens the visitor.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "recommender_click"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["impression", "position"], name="one_click_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"click {self.impression_id}#{self.position}"


class PageTime(models.Model):
    """Time a visitor spent on one page view (beacon on pagehide/visibilitychange)."""

    visitor_id = models.CharField(max_length=64, db_index=True)
    visit_id = models.CharField(max_length=64, db_index=True)
    client = client_field()
    experiment = models.ForeignKey(
        Experiment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    variant = models.CharField(max_length=40, db_index=True)
    path = models.CharField(max_length=300)
    page_view = models.UUIDField(help_text="One page view; repeated beacons update its time.")
    seconds = models.FloatField()
    implausible = models.BooleanField(
        default=False,
        help_text="A beacon claimed more time than the page view had existed (`seconds` is cut "
        "to what it had): screens the visitor.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "recommender_pagetime"
        constraints = [models.UniqueConstraint(fields=["page_view"], name="one_row_per_view")]

    def __str__(self) -> str:
        return f"{self.path}: {self.seconds:.0f}s"
