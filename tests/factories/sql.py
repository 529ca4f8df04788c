"""Watching the statements a service sends: how many times it reads a table (a scan of a hundred thousand rows
each, at the size bench/desk.py measures), counted without timing anything."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def statements(engine: Engine, matching: re.Pattern[str] | None = None) -> Iterator[list[str]]:
    """The statements sent while the block runs (those `matching`, when given)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if matching is None or matching.search(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def reads_of(engine: Engine, table: str) -> AbstractContextManager[list[str]]:
    """The statements that read `table` (FROM or JOIN it) while the block runs."""
    return statements(engine, re.compile(rf"\b(FROM|JOIN) {re.escape(table)}\b", re.IGNORECASE))
