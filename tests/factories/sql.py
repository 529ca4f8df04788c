"""Watching the statements a service sends: how many times it reads a table (a scan of a hundred thousand rows
each, at the size bench/desk.py measures), counted without timing anything."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def reads_of(engine: Engine, table: str) -> Iterator[list[str]]:
    """The statements that read `table` (FROM or JOIN it) while the block runs."""
    reads = re.compile(rf"\b(FROM|JOIN) {re.escape(table)}\b", re.IGNORECASE)
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if reads.search(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)
