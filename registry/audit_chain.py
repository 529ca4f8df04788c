"""Tamper-evident history: audit rows and support events are hash chains, so an edited, inserted or deleted row is
found by `registro audit verify` (registry/audit_verify.py) and says where.

Streams. Every row belongs to one stream and carries its place in it:
- `audit`: every AuditEvent. Audit rows name accounts, sessions, OPLs, processes and supports alike, so no owner
  splits them naturally; one stream keeps the whole trail in one order.
- `support:<process id>`: the SupportEvents of one electoral process. Writers of different processes never wait
  on each other, a stream stays bounded and named (not one per server process, which would multiply with every
  restart), and the morning report of a process (registry/reports/daily.py) anchors the streams its readers (the
  OPL's staff, the aspirants) have a stake in.

Each row has `chain_stream`, `chain_seq` (1, 2, 3, ... per stream), `prev_hash` (the previous row's `row_hash`;
64 zeros for seq 1) and `row_hash`, the hex SHA-256 of the UTF-8 bytes of this JSON text (keys sorted, no
spaces, `json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`):

    {"id": <row id>, "prev": <prev_hash>, "row": {<column>: <value>, ...}, "seq": <chain_seq>,
     "stream": <chain_stream>, "table": "auditevent" | "supportevent"}

with the columns of CHAINED_COLUMNS below; a time is written "YYYY-MM-DDTHH:MM:SS.ffffffZ" in UTC, an enum as its
stored value, an absent value as null. The rows hold no personal data, so purging a closed process's personal
data never touches a chained column.

Writing. Nobody chains by hand: a session hook runs at the end of every transaction that wrote such rows (ORM rows
are noticed at flush; set-based SQL, like the compulsa's INSERT ... SELECT, calls `note_streams`). It takes the
streams' heads (table `chainhead`) with one upsert that locks them in sorted order, LAST, after every lock the
transaction took already (the support, then the report counters), so it cannot deadlock with them; then chains the
transaction's new rows in id order and moves the heads. Two transactions thus never chain onto the same head: the
second waits for the first to commit and reads the head it left. SQLite serialises writers anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from core.audit import AuditEvent, ChainHead
from registry.models.supports import Support, SupportEvent

GENESIS = "0" * 64
AUDIT_STREAM = "audit"
SUPPORT_STREAM_PREFIX = "support:"
UPDATE_BATCH = 5_000  # rows per UPDATE (PostgreSQL) or executemany (SQLite) when chaining set-based SQL's rows

AUDIT_TABLE: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
SUPPORT_EVENT_TABLE: sa.Table = SupportEvent.__table__  # type: ignore[attr-defined]
SUPPORT_TABLE: sa.Table = Support.__table__  # type: ignore[attr-defined]
HEAD_TABLE: sa.Table = ChainHead.__table__  # type: ignore[attr-defined]

# The meaningful columns of each chained table, in the hash's "row" object (never the chain's own columns).
CHAINED_COLUMNS: dict[str, tuple[str, ...]] = {
    "auditevent": ("actor_account_id", "action", "object_type", "object_id", "before_summary", "after_summary", "at"),
    "supportevent": ("support_id", "from_status", "to_status", "situacion_registral", "reason", "actor_account_id",
                     "at", "state_code", "district", "municipality", "seccion"),
}
CHAIN_TABLES: dict[str, sa.Table] = {"auditevent": AUDIT_TABLE, "supportevent": SUPPORT_EVENT_TABLE}

_STREAMS = "registro_chain_streams"  # session.info: heads this transaction must move
_SCAN_SUPPORT_EVENTS = "registro_chain_scan"  # session.info: support events whose process is not known yet


def support_stream(process_id: int) -> str:
    return f"{SUPPORT_STREAM_PREFIX}{process_id}"


def table_of(stream: str) -> str:
    return "supportevent" if stream.startswith(SUPPORT_STREAM_PREFIX) else "auditevent"


_AS_IS = frozenset({int, str, type(None)})


def _canonical(value: Any) -> Any:
    if type(value) in _AS_IS:  # most columns: no conversion (checked first, this runs for every column of every row)
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def row_hash(*, table: str, row_id: int, stream: str, seq: int, prev: str, values: Mapping[Any, Any]) -> str:
    """The hex SHA-256 of a row's canonical text (the module's docstring spells it out)."""
    payload = {"table": table, "id": row_id, "stream": stream, "seq": seq, "prev": prev,
               "row": {name: _canonical(values[name]) for name in CHAINED_COLUMNS[table]}}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def note_streams(session: Session, streams: Iterable[str]) -> None:
    """Set-based SQL that inserted chained rows says which streams they join; the commit chains them."""
    session.info.setdefault(_STREAMS, set()).update(streams)


def _notice_new_rows(session: Session, _context: object, _instances: object) -> None:
    streams: set[str] = set()
    for instance in session.new:
        if isinstance(instance, AuditEvent):
            streams.add(AUDIT_STREAM)
        elif isinstance(instance, SupportEvent):
            # The support is almost always loaded already (record_transition holds it): no query at flush.
            support = session.identity_map.get(session.identity_key(Support, instance.support_id))
            if isinstance(support, Support):
                streams.add(support_stream(support.process_id))
            else:
                session.info[_SCAN_SUPPORT_EVENTS] = True
    if streams:
        note_streams(session, streams)


def _chain_before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.flush()  # the commit flushes anyway: now every new row has its id, and the hook above has seen it
    if not (session.info.get(_STREAMS) or session.info.get(_SCAN_SUPPORT_EVENTS)):
        return
    streams = set(session.info.get(_STREAMS, ()))
    if session.info.get(_SCAN_SUPPORT_EVENTS):
        streams |= _unchained_support_streams(session)
    heads = lock_heads(session, streams)
    moved = chain_pending(session, heads)
    _move_heads(session, moved)
    _forget(session)


def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_STREAMS, None)
    session.info.pop(_SCAN_SUPPORT_EVENTS, None)


def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: its rows are committed or gone
        _forget(session)


def _unchained_support_streams(session: Session) -> set[str]:
    e, s = SUPPORT_EVENT_TABLE.c, SUPPORT_TABLE.c
    found = session.execute(sa.select(s.process_id).distinct().select_from(
        SUPPORT_EVENT_TABLE.join(SUPPORT_TABLE, s.id == e.support_id)).where(e.chain_stream.is_(None)))
    return {support_stream(process_id) for (process_id,) in found}


def lock_heads(session: Session, streams: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Each stream's head (seq, hash), locked until the transaction ends, in one statement: an upsert in sorted
    order (no deadlock between two transactions that share streams) that creates a stream's head on first use
    (seq 0) and otherwise rewrites it unchanged, which takes its row lock and returns it as it stands. A concurrent
    first writer of the same stream wins the insert; this one then waits for its commit and locks its row."""
    wanted = sorted(set(streams))
    if not wanted:
        return {}
    insert = _dialect_insert(session)
    statement = insert(HEAD_TABLE).values([{"stream": stream, "seq": 0, "head_hash": GENESIS} for stream in wanted])
    locked = session.execute(statement.on_conflict_do_update(
        index_elements=[HEAD_TABLE.c.stream], set_={"seq": HEAD_TABLE.c.seq})
        .returning(HEAD_TABLE.c.stream, HEAD_TABLE.c.seq, HEAD_TABLE.c.head_hash))
    return {stream: (seq, head) for stream, seq, head in locked}


def _dialect_insert(session: Session) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def chain_pending(session: Session, heads: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """Chain every row not chained yet of the locked streams, in id order; returns the heads that moved. The rows
    are read after the locks: a row another transaction chained meanwhile is not read again."""
    moved: dict[str, tuple[int, str]] = {}
    for table_name, table in CHAIN_TABLES.items():
        mine = {stream for stream in heads if table_of(stream) == table_name}
        if not mine:
            continue
        updates: list[dict[str, Any]] = []
        for row in _unchained_rows(session, table_name, table):
            stream = AUDIT_STREAM if table_name == "auditevent" else support_stream(row.process_id)
            if stream not in mine:
                continue  # not locked by this transaction (cannot be its own row): left for its writer
            seq, prev = moved.get(stream) or heads[stream]
            values = row._mapping
            digest = row_hash(table=table_name, row_id=row.id, stream=stream, seq=seq + 1, prev=prev, values=values)
            updates.append({"b_id": row.id, "b_stream": stream, "b_seq": seq + 1, "b_prev": prev, "b_hash": digest})
            moved[stream] = (seq + 1, digest)
        _write_links(session, table, updates)
    return moved


def _unchained_rows(session: Session, table_name: str, table: sa.Table) -> Sequence[sa.Row[Any]]:
    columns = [table.c.id, *(table.c[name] for name in CHAINED_COLUMNS[table_name])]
    if table_name == "auditevent":
        query = sa.select(*columns)
    else:
        query = sa.select(*columns, SUPPORT_TABLE.c.process_id).select_from(
            table.join(SUPPORT_TABLE, SUPPORT_TABLE.c.id == table.c.support_id))
    return session.execute(query.where(table.c.chain_stream.is_(None)).order_by(table.c.id)).all()


def _write_links(session: Session, table: sa.Table, updates: list[dict[str, Any]]) -> None:
    connection = session.connection()
    for start in range(0, len(updates), UPDATE_BATCH):
        batch = updates[start:start + UPDATE_BATCH]
        if connection.dialect.name == "postgresql" and len(batch) > 1:
            _write_links_postgresql(connection, table, batch)
        else:  # SQLite runs in the process: executemany costs no round trips
            connection.execute(_LINK_UPDATES[table.name], batch)


_LINK_UPDATES = {name: sa.update(table).where(table.c.id == sa.bindparam("b_id")).values(
    chain_stream=sa.bindparam("b_stream"), chain_seq=sa.bindparam("b_seq"), prev_hash=sa.bindparam("b_prev"),
    row_hash=sa.bindparam("b_hash")) for name, table in CHAIN_TABLES.items()}


def _write_links_postgresql(connection: sa.Connection, table: sa.Table, batch: list[dict[str, Any]]) -> None:
    """One statement per batch, its values as typed arrays: each row found by its key (one UPDATE a row, even
    pipelined, costs ~5x more at 100,000 rows)."""
    # The table is one of CHAIN_TABLES and every value is a bound parameter.
    connection.execute(sa.text(
        f"UPDATE {table.name} AS e SET chain_stream = v.s, chain_seq = v.q, prev_hash = v.p, row_hash = v.h "  # noqa: S608
        "FROM unnest(CAST(:ids AS integer[]), CAST(:streams AS varchar[]), CAST(:seqs AS integer[]), "
        "CAST(:prevs AS varchar[]), CAST(:hashes AS varchar[])) AS v(id, s, q, p, h) WHERE e.id = v.id"),
        {"ids": [link["b_id"] for link in batch], "streams": [link["b_stream"] for link in batch],
         "seqs": [link["b_seq"] for link in batch], "prevs": [link["b_prev"] for link in batch],
         "hashes": [link["b_hash"] for link in batch]})


def _move_heads(session: Session, moved: dict[str, tuple[int, str]]) -> None:
    if not moved:
        return
    statement = (sa.update(HEAD_TABLE).where(HEAD_TABLE.c.stream == sa.bindparam("b_stream"))
                 .values(seq=sa.bindparam("b_seq"), head_hash=sa.bindparam("b_hash")))
    session.connection().execute(statement, [{"b_stream": stream, "b_seq": seq, "b_hash": head}
                                             for stream, (seq, head) in sorted(moved.items())])


def current_heads(*, session: Session, streams: Iterable[str]) -> dict[str, tuple[int, str]]:
    """The committed heads (seq, hash) of these streams, unlocked; a stream with no row yet is at (0, GENESIS)."""
    wanted = sorted(set(streams))
    h = HEAD_TABLE.c
    found = {stream: (seq, head) for stream, seq, head in
             session.execute(sa.select(h.stream, h.seq, h.head_hash).where(h.stream.in_(wanted)))}
    return {stream: found.get(stream, (0, GENESIS)) for stream in wanted}


def anchor_of(*, session: Session, process_id: int) -> dict[str, dict[str, int | str]]:
    """The daily anchor of a process: the heads of the audit trail and of the process's support events."""
    heads = current_heads(session=session, streams=(AUDIT_STREAM, support_stream(process_id)))
    return {stream: {"seq": seq, "hash": head} for stream, (seq, head) in heads.items()}


def install() -> None:
    """Chain at every commit of every session (idempotent; done when this module is imported)."""
    for name, hook in (("before_flush", _notice_new_rows), ("before_commit", _chain_before_commit),
                       ("after_transaction_end", _forget_at_end)):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


install()
