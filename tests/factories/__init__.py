"""Test factories, one module per domain area, used by unit, web and browser tests alike: `accounts`
(accounts and role grants), `processes` (OPLs, processes, aspirants, auxiliaries), `photos` (credential backs
the pipeline reads, plain photos, signatures)."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session

T = TypeVar("T")


def add(session: Session, row: T) -> T:
    session.add(row)
    session.flush()
    return row
