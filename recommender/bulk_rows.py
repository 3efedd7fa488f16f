"""Run rows written in bulk: millions of rows without a model instance each.

A re-cluster writes `neighbours_per_photo` neighbour rows per photo (2 million at 100k photos)
and a membership per photo. Through the ORM each row is a model instance and a share of an
INSERT statement compiled by Django; here rows are plain tuples: PostgreSQL takes them with
``COPY … FROM STDIN`` (psycopg 3's `Cursor.copy`), other databases with one prepared INSERT run
over many rows (`executemany`). Both go through Django's connection in one transaction (the
caller's, if any): outside one, SQLite would commit every row on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice

from django.db import connection, transaction
from django.db.models import Model

from .models import Membership, Neighbour

#: rows per executemany call (bounds memory; COPY streams)
BATCH = 20_000
_NEIGHBOUR_FIELDS = ("run", "photo", "neighbour", "rank", "score", "reasons")
_MEMBERSHIP_FIELDS = ("run", "photo", "cluster", "distance", "added")

NeighbourRow = tuple[int, int, int, float, list[str]]  # photo, neighbour, rank, score, reasons
MembershipRow = tuple[int, int, float]  # photo, cluster, distance


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _insert(model: type[Model], fields: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """Write `rows` (values of `fields`, in order, as the database takes them) into `model`'s
    table; returns how many were written."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    written = 0
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
            return written
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        for batch in _batches(rows, BATCH):
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def insert_neighbours(run_id: int, rows: Iterable[NeighbourRow]) -> int:
    """Write `rows` for run `run_id`; returns how many were written."""
    encoded: dict[tuple[str, ...], str] = {}  # a build repeats a few hundred lists of reasons

    def as_json(reasons: list[str]) -> str:
        key = tuple(reasons)
        text = encoded.get(key)
        if text is None:
            text = encoded[key] = json.dumps(reasons)
        return text

    return _insert(
        Neighbour,
        _NEIGHBOUR_FIELDS,
        (
            (run_id, photo, neighbour, rank, score, as_json(reasons))
            for photo, neighbour, rank, score, reasons in rows
        ),
    )


def insert_memberships(run_id: int, rows: Iterable[MembershipRow]) -> int:
    """Write the memberships `rows` of run `run_id`'s build; returns how many were written.
    (Photos joining a run later are few; `incremental` writes them through the ORM, which
    gives it their ids.)"""
    return _insert(
        Membership,
        _MEMBERSHIP_FIELDS,
        ((run_id, photo, cluster, distance, False) for photo, cluster, distance in rows),
    )
