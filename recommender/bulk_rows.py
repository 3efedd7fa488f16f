"""Neighbour rows written in bulk: millions of rows without a model instance each.

A re-cluster writes `neighbours_per_photo` rows per photo (2 million at 100k photos). Through the
ORM each row is a `Neighbour` instance and a share of an INSERT statement compiled by Django;
here rows are plain tuples: PostgreSQL takes them with ``COPY … FROM STDIN`` (psycopg 3's
`Cursor.copy`), other databases with one prepared INSERT run over many rows (`executemany`).
Both go through Django's connection in one transaction (the caller's, if any): outside one,
SQLite would commit every row on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice

from django.db import connection, transaction

from .models import Neighbour

#: rows per executemany call (bounds memory; COPY streams)
BATCH = 20_000
_FIELDS = ("run", "photo", "neighbour", "rank", "score", "reasons")

NeighbourRow = tuple[int, int, int, float, list[str]]  # photo, neighbour, rank, score, reasons


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def insert_neighbours(run_id: int, rows: Iterable[NeighbourRow]) -> int:
    """Write `rows` for run `run_id`; returns how many were written."""
    meta = Neighbour._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(meta.get_field(name).column) for name in _FIELDS)
    written = 0
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for photo, neighbour, rank, score, reasons in rows:
                    copy.write_row((run_id, photo, neighbour, rank, score, json.dumps(reasons)))
                    written += 1
            return written
        placeholders = ", ".join(["%s"] * len(_FIELDS))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
        for batch in _batches(rows, BATCH):
            cursor.executemany(
                sql,
                [
                    (run_id, photo, neighbour, rank, score, json.dumps(reasons))
                    for photo, neighbour, rank, score, reasons in batch
                ],
            )
            written += len(batch)
    return written
