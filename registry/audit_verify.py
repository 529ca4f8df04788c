"""`registro audit verify`: walk each hash chain (registry/audit_chain.py) in seq order, recompute every hash, and
say where the history was changed: an edited row (its hash no longer matches its columns), a deleted row (a gap in
the seqs, or a row whose prev_hash is not the hash before it), an inserted row (a seq twice, a link that does not
follow, a row outside any chain), a head that is not the last row, and a daily report's anchor that is no longer a
link of its chain (a truncated or rewritten tail). Rows are streamed, so millions of events never fill memory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.audit_chain import (
    CHAIN_TABLES,
    CHAINED_COLUMNS,
    GENESIS,
    HEAD_TABLE,
    row_hash,
    table_of,
)
from registry.models import DailyReport

FETCH_ROWS = 5_000  # rows per round trip while walking a stream
GENESIS_SEQ = 0  # an anchor taken before a stream's first row names seq 0 and the all-zero hash


@dataclass(frozen=True)
class Finding:
    stream: str
    seq: int | None
    row_id: int | None
    kind: str  # edited, deleted, inserted, unchained, head, anchor
    detail: str

    def __str__(self) -> str:
        where = f"stream {self.stream}" + (f" seq {self.seq}" if self.seq is not None else "")
        row = f" ({table_of(self.stream)} id {self.row_id})" if self.row_id is not None else ""
        return f"{where}{row}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class Anchor:
    stream: str
    seq: int
    head: str
    source: str  # which daily report stored it


@dataclass
class _Walk:
    stream: str
    anchors: dict[int, list[Anchor]]
    last_seq: int = 0
    last_hash: str = GENESIS
    rows: int = 0


def known_streams(*, session: Session) -> list[str]:
    streams = set(session.execute(sa.select(HEAD_TABLE.c.stream)).scalars())
    for table in CHAIN_TABLES.values():
        streams |= set(session.execute(sa.select(table.c.chain_stream).distinct()
                                       .where(table.c.chain_stream.is_not(None))).scalars())
    return sorted(streams)


def verify_chains(*, session: Session, streams: Iterable[str] | None = None) -> Iterator[Finding]:
    """Every finding, stream by stream; none when the history is intact. Run it in one snapshot (a REPEATABLE READ
    transaction on PostgreSQL) so rows committed meanwhile do not look like a moved head."""
    chosen = sorted(set(streams)) if streams is not None else known_streams(session=session)
    anchors = _anchors(session)
    for stream in chosen:
        yield from _verify_stream(session, stream, anchors.get(stream, {}))
    if streams is None:
        yield from _unchained(session)


def _anchors(session: Session) -> dict[str, dict[int, list[Anchor]]]:
    found: dict[str, dict[int, list[Anchor]]] = {}
    reports = session.execute(sa.select(DailyReport.process_id, DailyReport.day, DailyReport.anchor)  # type: ignore[call-overload]
                              .where(DailyReport.anchor != ""))
    for process_id, day, text in reports:
        source = f"daily report of process {process_id} for {day.isoformat()}"
        for stream, head in _parse_anchor(text).items():
            anchor = Anchor(stream, int(head["seq"]), str(head["hash"]), source)
            found.setdefault(stream, {}).setdefault(anchor.seq, []).append(anchor)
    return found


def _parse_anchor(text: str) -> dict[str, dict[str, Any]]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _verify_stream(session: Session, stream: str, anchors: dict[int, list[Anchor]]) -> Iterator[Finding]:
    table_name = table_of(stream)
    table = CHAIN_TABLES[table_name]
    walk = _Walk(stream, anchors)
    query = (sa.select(table.c.id, table.c.chain_seq, table.c.prev_hash, table.c.row_hash,
                       *(table.c[name] for name in CHAINED_COLUMNS[table_name]))
             .where(table.c.chain_stream == stream).order_by(table.c.chain_seq, table.c.id)
             .execution_options(yield_per=FETCH_ROWS))
    for row in session.execute(query):
        yield from _check_row(walk, table_name, row)
    yield from _check_anchors_at(walk, GENESIS_SEQ, GENESIS)  # an anchor taken before the stream's first row
    yield from _check_head(session, walk)
    for seq in sorted(s for s in anchors if s > walk.last_seq):
        for anchor in anchors[seq]:
            yield Finding(stream, seq, None, "anchor", f"the {anchor.source} names seq {seq}, past the end of the "
                          f"chain at seq {walk.last_seq}: rows were removed from the tail")



def _check_row(walk: _Walk, table_name: str, row: Any) -> Iterator[Finding]:
    seq, stream = row.chain_seq, walk.stream
    expected = row_hash(table=table_name, row_id=row.id, stream=stream, seq=seq, prev=row.prev_hash or "",
                        values=row._mapping)
    if expected != row.row_hash:
        yield Finding(stream, seq, row.id, "edited", "the row's hash does not match its contents")
    if walk.rows and seq == walk.last_seq:
        yield Finding(stream, seq, row.id, "inserted", "a second row with the same seq")
    elif seq > walk.last_seq + 1:
        missing = f"seq {walk.last_seq + 1}" + (f" to {seq - 1}" if seq - 1 > walk.last_seq + 1 else "")
        yield Finding(stream, seq, row.id, "deleted", f"{missing} missing before this row")
    elif row.prev_hash != walk.last_hash:
        yield Finding(stream, seq, row.id, "inserted",
                      "its prev_hash is not the hash of the row before it: a row was inserted or replaced")
    walk.last_seq, walk.last_hash, walk.rows = seq, row.row_hash or "", walk.rows + 1
    yield from _check_anchors_at(walk, seq, walk.last_hash, row.id)


def _check_anchors_at(walk: _Walk, seq: int, head: str, row_id: int | None = None) -> Iterator[Finding]:
    for anchor in walk.anchors.get(seq, []):
        if anchor.head != head:
            yield Finding(walk.stream, seq, row_id, "anchor",
                          f"the {anchor.source} recorded another hash here: the chain was rewritten since")


def _check_head(session: Session, walk: _Walk) -> Iterator[Finding]:
    h = HEAD_TABLE.c
    head = session.execute(sa.select(h.seq, h.head_hash).where(h.stream == walk.stream)).first()
    if head is None:
        if walk.rows:
            yield Finding(walk.stream, None, None, "head", "the stream has rows but no head")
        return
    if head.seq != walk.last_seq or head.head_hash != walk.last_hash:
        yield Finding(walk.stream, head.seq, None, "head",
                      f"the head (seq {head.seq}) is not the last row of the chain (seq {walk.last_seq}): rows were "
                      f"added or removed at the end")


def _unchained(session: Session) -> Iterator[Finding]:
    for table_name, table in CHAIN_TABLES.items():
        stream = "audit" if table_name == "auditevent" else "support:?"
        query = (sa.select(table.c.id).where(table.c.chain_stream.is_(None)).order_by(table.c.id)
                 .execution_options(yield_per=FETCH_ROWS))
        for (row_id,) in session.execute(query):
            yield Finding(stream, None, row_id, "unchained", "a row outside every chain: written behind the chain")
