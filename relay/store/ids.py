"""Deleting rows by id in chunks: SQLite caps the parameters of one statement (999 before 3.32)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Final, Literal, TypeVar

T = TypeVar("T")

CHUNK: Final = 500  # ids per DELETE … IN (…)

ById = Literal["watches", "outbox"]
"""The tables deleted from by id (`id` is their primary key)."""


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def delete_ids(conn: sqlite3.Connection, table: ById, ids: Sequence[object]) -> None:
    """Delete these rows of `table`, inside the caller's transaction."""
    if table not in ("watches", "outbox"):  # the Literal is not checked at run time
        raise ValueError(f"not a table deleted by id: {table!r}")
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM {table} WHERE id IN ({marks})", chunk)  # noqa: S608 — a fixed name, placeholders
