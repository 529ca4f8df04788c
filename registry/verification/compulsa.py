"""The compulsa: every support of a process gets its situación registral from the roll in force, in a few
set-based statements (never a query per support), in bulk or for a few new supports (docs/compulsa.md).

The rules, in the terms of LGIPE art. 385 and docs/compulsa.md:

1. Match the support's credential to one citizen of the roll in force: by CIC, else by clave de elector (paper
   and typed captures), else by OCR, else by identificador ciudadano. The citizen is the roll's clave de elector,
   which every credential of one person shares.
2. Its category from the roll, first that applies: not found -> datos_no_encontrados; baja (with its reason);
   in the Padrón but not the Lista Nominal -> en_padron_no_en_lista; registered outside the office's territory ->
   fuera_de_ambito; a paper support from a municipality not authorised for paper -> fuera_regimen_excepcion;
   otherwise en_lista_nominal (it would count).
3. Among one citizen's supports in the process that would count, ordered by server receipt time and, on a tie,
   by folio: the first counts; a later one for an aspirant the citizen already supported is
   duplicado_mismo_aspirante (the same citizen counts once per aspirant); a later one for another aspirant is
   duplicado_otro_aspirante (only the first support for the office counts). Device time plays no part.
4. A support that would count is valid, unless it carries a flag (registry.review.flags: typed identifiers, a
   reused photo, an inhuman capture pace, ...) or was drawn for the OPL's sample: then it waits for the mesa de
   control (in_review; one already validated there stays valid). One that does not count is invalid, which the
   aspirant sees and may contest. A support with an inconsistency found by the mesa de control, under
   objection, or restored by an upheld objection is left to those decisions.

Each support whose category, detail or status changes gets one SupportEvent saying why; nothing else is
written, so running the compulsa twice writes nothing the second time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, text
from sqlmodel import Session, col, select

from core.columns import UtcDateTime
from core.sealing import BLIND_INDEX_CHARS
from registry.audit_chain import note_streams, support_stream
from registry.models import Process, RollImport
from registry.reports.counters import count_compulsa
from registry.states import RollImportState, ScopeKind

Step = Callable[[int, int, str], None]  # (done, total, what) — progress, and the point where cancelling stops


@dataclass(frozen=True)
class CompulsaResult:
    examined: int
    changed: int
    roll_import_id: int | None  # None: no roll in force for the process's OPL, nothing was verified


def current_roll(*, session: Session, opl_id: int) -> RollImport | None:
    return session.exec(select(RollImport).where(RollImport.opl_id == opl_id,
                                                 RollImport.state == RollImportState.CURRENT)).first()


def verify_process(*, session: Session, process_id: int, now: datetime, support_ids: Sequence[int] | None = None,
                   step: Step | None = None) -> CompulsaResult:
    """Verify every support of the process (support_ids None) or only those given and their citizens' other
    supports. Runs in the caller's transaction: it commits, or rolls back, as one."""
    process = session.get(Process, process_id)
    assert process is not None and process.id is not None
    roll = current_roll(session=session, opl_id=process.opl_id)
    if roll is None:
        return CompulsaResult(0, 0, None)
    report = step or (lambda _done, _total, _what: None)
    query = _Compulsa(session, process, roll, support_ids)
    query.prepare()
    report(1, 3, "Buscando cada apoyo en la Lista Nominal y aplicando las reglas de duplicados (LGIPE 385)")
    examined = query.decide()
    report(2, 3, "Registrando los cambios")
    changed = query.write(now)
    return CompulsaResult(examined, changed, roll.id)


def pending_supports(*, session: Session, limit: int) -> dict[int, list[int]]:
    """Supports received and not yet verified, in processes whose OPL has a roll in force, by process."""
    rows = session.execute(text(
        "SELECT q.process_id, q.support_id FROM pendingverification AS q JOIN process AS p ON p.id = q.process_id "
        "JOIN rollimport AS r ON r.opl_id = p.opl_id AND r.state = 'current' "
        "ORDER BY q.support_id LIMIT :limit"), {"limit": limit}).all()
    grouped: dict[int, list[int]] = {}
    for process_id, support_id in rows:
        grouped.setdefault(process_id, []).append(support_id)
    return grouped


def processes_of_opl(*, session: Session, opl_id: int) -> list[int]:
    return [pid for pid in session.exec(select(Process.id).where(Process.opl_id == opl_id)
                                        .order_by(col(Process.id))) if pid is not None]


# Supports the compulsa decides; the others carry a person's decision (mesa de control, objection).
_DECIDED_BY_COMPULSA = ("s.status <> 'contested' AND s.situacion_registral <> 'con_inconsistencia' AND NOT EXISTS "
                        "(SELECT 1 FROM objection AS o WHERE o.support_id = s.id AND o.state = 'upheld')")
_FLAGGED = "EXISTS (SELECT 1 FROM supportflag AS f WHERE f.support_id = s.id)"
_WOULD_COUNT = "('en_lista_nominal', 'duplicado_mismo_aspirante', 'duplicado_otro_aspirante')"

_LABELS = {
    "en_lista_nominal": "en Lista Nominal",
    "duplicado_mismo_aspirante": "duplicado: la misma persona ya apoyó a este aspirante (cuenta una vez)",
    "duplicado_otro_aspirante": "duplicado con otro aspirante al mismo cargo: solo cuenta el primer apoyo",
    "en_padron_no_en_lista": "en el Padrón Electoral pero no en la Lista Nominal",
    "baja": "baja del Padrón Electoral",
    "datos_no_encontrados": "datos no encontrados en la Lista Nominal",
    "fuera_de_ambito": "domicilio fuera del ámbito geográfico del cargo",
    "fuera_regimen_excepcion": "apoyo en papel de un municipio que no está en el régimen de excepción",
}
_HOW = {"1": "CIC", "2": "clave de elector", "3": "OCR", "4": "identificador ciudadano"}
BULK_WORK_MEMORY = "512MB"  # PostgreSQL's, for one compulsa's sorts (the server's memory, not this process's)

# The citizen of a support: the first key that finds one in the roll in force, in the order CIC, clave de elector,
# OCR, identificador ciudadano, each an index lookup evaluated only when the keys before found nobody. The result
# is the key's number followed by the blind index of the roll's clave de elector ('1' + index when found by CIC).
# Personal columns are sealed: every comparison is between blind indexes (core/sealing.py), one key on both sides.
_FIRST_MATCH = "COALESCE(" + ", ".join(f"(SELECT min('{number}' || r.clave_elector_bidx) FROM {source} "
                                      f"WHERE {condition})"
                                      for number, source, condition in (
    ("1", "rollentry AS r", "r.roll_import_id = :roll AND r.cic_bidx = s.cic_bidx"),
    ("2", "rollentry AS r", "r.roll_import_id = :roll AND r.clave_elector_bidx = s.clave_elector_bidx"),
    ("3", "credentialreading AS c JOIN rollentry AS r ON r.roll_import_id = :roll AND r.ocr_bidx = c.ocr_bidx",
     "c.id = s.reading_id"),
    ("4", "credentialreading AS c JOIN rollentry AS r ON r.roll_import_id = :roll "
          "AND r.identificador_bidx = c.identificador_bidx", "c.id = s.reading_id"),
)) + ")"


# Supports that carry one of the matched citizens' identifiers in the roll: the only ones the compulsa can have
# matched to those citizens, found through indexes that no verification ever rewrites.
_SAME_CITIZEN = """
    SELECT o.id FROM matched AS m JOIN support AS o ON o.cic_bidx = m.roll_cic
    UNION SELECT o.id FROM matched AS m JOIN support AS o ON o.clave_elector_bidx = m.citizen_key
    UNION SELECT o.id FROM matched AS m JOIN credentialreading AS c ON c.ocr_bidx = m.roll_ocr
          JOIN support AS o ON o.reading_id = c.id
    UNION SELECT o.id FROM matched AS m JOIN credentialreading AS c ON c.identificador_bidx = m.roll_idc
          JOIN support AS o ON o.reading_id = c.id"""


def _case(column: str, mapping: dict[str, str], default: str) -> str:
    arms = " ".join(f"WHEN {column} = '{key}' THEN '{value}'" for key, value in mapping.items())
    return f"CASE {arms} ELSE {default} END"


class _Compulsa:
    def __init__(self, session: Session, process: Process, roll: RollImport,
                 support_ids: Sequence[int] | None) -> None:
        assert process.id is not None and roll.id is not None
        self.session, self.process, self.cutoff = session, process, roll.cutoff_date
        self.params: dict[str, object] = {"process": process.id, "roll": roll.id}
        self.bulk = support_ids is None
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.target = f"s.process_id = :process AND {_DECIDED_BY_COMPULSA}"
        if support_ids is not None:
            self.target += " AND s.id IN :ids"
            self.params["ids"] = list(support_ids)

    def _run(self, sql: str) -> int:
        statement = text(sql)
        if "ids" in self.params and ":ids" in sql:
            statement = statement.bindparams(bindparam("ids", expanding=True))
        if ":now" in sql:  # stored as the ORM stores times (UTC, one text format on SQLite), so they sort together
            statement = statement.bindparams(bindparam("now", type_=UtcDateTime()))
        used = {key: value for key, value in self.params.items() if f":{key}" in sql}
        return int(self.session.execute(statement, used).rowcount or 0)  # type: ignore[attr-defined]

    def prepare(self) -> None:
        """The work table of this connection, made once and kept: creating and dropping it at every run costs more
        than verifying one new support (catalog writes on PostgreSQL). PostgreSQL empties it at commit."""
        postgres = self.postgres
        if postgres:
            # The planner's cost guesses for these statements trigger JIT compilation, which takes seconds and
            # saves nothing here.
            self._run("SET LOCAL jit = off")
        if postgres and self.bulk:  # the duplicate ranking sorts every support: in memory rather than on disk
            self._run(f"SET LOCAL work_mem = '{BULK_WORK_MEMORY}'")
        elif postgres:
            # A few supports: the same statements every time, prepared by the driver; planning the decision
            # afresh each time (PostgreSQL's default here) costs more than running it.
            self._run("SET LOCAL plan_cache_mode = force_generic_plan")
        # IF NOT EXISTS every time (a look-up in the catalog, no write): a note on the connection that the table
        # exists would outlive a caller's rollback, which takes a table made in its transaction with it.
        emptied = " ON COMMIT DELETE ROWS" if postgres else ""
        self._run("CREATE TEMPORARY TABLE IF NOT EXISTS compulsa_result (support_id INTEGER PRIMARY KEY, "
                  "situacion VARCHAR(40), detail VARCHAR(40), status VARCHAR(40), how VARCHAR(5), "
                  f"citizen_key VARCHAR({BLIND_INDEX_CHARS}), state_code INTEGER, district INTEGER, "
                  f"municipality INTEGER, seccion INTEGER){emptied}")
        if not postgres:
            self._run("DELETE FROM compulsa_result")

    def _out_of_scope(self) -> str:
        process = self.process
        conditions = [f"t.state_code <> {int(process.scope_state)}"]
        if process.scope_kind is ScopeKind.DISTRICT and process.scope_district is not None:
            conditions.append(f"t.district <> {int(process.scope_district)}")
        if process.scope_kind is ScopeKind.MUNICIPALITY and process.scope_municipality is not None:
            conditions.append(f"t.municipality <> {int(process.scope_municipality)}")
        return " OR ".join(conditions)

    def decide(self) -> int:
        """Category of every target support (and, for a few new supports, of their citizens' other supports).
        Folios and claves compare byte by byte on both databases, so a tie on time is broken the same way."""
        c = ' COLLATE "C"' if self.postgres else ""
        return self._run(f"""
            INSERT INTO compulsa_result
            WITH keyed AS MATERIALIZED (
                SELECT s.id, s.aspirant_id, s.received_at, s.folio, s.channel, s.status AS old_status,
                       s.situacion_registral AS old_situacion, {_FLAGGED} AS flagged, {_FIRST_MATCH} AS found
                FROM support AS s WHERE {self.target}
            ),
            target AS (  -- the cast keeps the key a plain column for the planner (one roll row per citizen)
                SELECT k.id, k.aspirant_id, k.received_at, k.folio, k.channel, k.old_status, k.old_situacion,
                       k.flagged, substr(k.found, 1, 1) AS how, r.clave_elector_bidx AS citizen_key,
                       r.state_code, r.district, r.municipality, r.seccion, r.status AS roll_status, r.baja_reason,
                       r.cic_bidx AS roll_cic, r.ocr_bidx AS roll_ocr, r.identificador_bidx AS roll_idc
                FROM keyed AS k LEFT JOIN rollentry AS r
                    ON r.roll_import_id = :roll
                       AND r.clave_elector_bidx = CAST(substr(k.found, 2) AS VARCHAR({BLIND_INDEX_CHARS}))
            ),
            matched AS (SELECT * FROM target WHERE citizen_key IS NOT NULL),
            based AS (
                SELECT t.*, CASE
                    WHEN t.how IS NULL THEN 'datos_no_encontrados'
                    WHEN t.roll_status = 'baja' THEN 'baja'
                    WHEN t.roll_status = 'padron_sin_lista' THEN 'en_padron_no_en_lista'
                    WHEN {self._out_of_scope()} THEN 'fuera_de_ambito'
                    WHEN t.channel IN ('paper', 'bulk_import') AND NOT EXISTS (
                        SELECT 1 FROM paperexceptionmunicipality AS x
                        WHERE x.process_id = :process AND x.municipality = t.municipality)
                        THEN 'fuera_regimen_excepcion'
                    ELSE 'en_lista_nominal' END AS base
                FROM target AS t
            ),
            pool AS (
                SELECT id, aspirant_id, received_at, folio, old_status, old_situacion, flagged, how, citizen_key,
                       state_code, district, municipality, seccion, baja_reason, base FROM based
                {self._peers()}
            ),
            ranked AS (
                SELECT pool.*,
                    ROW_NUMBER() OVER (PARTITION BY citizen_key{c}, base
                                       ORDER BY received_at, folio{c}) AS rank_citizen,
                    ROW_NUMBER() OVER (PARTITION BY citizen_key{c}, base, aspirant_id
                                       ORDER BY received_at, folio{c}) AS rank_aspirant
                FROM pool
            ),
            decided AS (
                SELECT ranked.*, CASE
                    WHEN base = 'kept' THEN old_situacion
                    WHEN base <> 'en_lista_nominal' THEN base
                    WHEN rank_aspirant > 1 THEN 'duplicado_mismo_aspirante'
                    WHEN rank_citizen > 1 THEN 'duplicado_otro_aspirante'
                    ELSE 'en_lista_nominal' END AS situacion
                FROM ranked
            )
            SELECT id, situacion,
                CASE WHEN situacion = 'baja' THEN baja_reason END,
                CASE WHEN base = 'kept' THEN old_status
                     WHEN situacion = 'en_lista_nominal' AND old_status = 'valid' THEN 'valid'
                     WHEN situacion = 'en_lista_nominal' AND flagged THEN 'in_review'
                     WHEN situacion = 'en_lista_nominal' THEN 'valid'
                     ELSE 'invalid' END,
                how, citizen_key, state_code, district, municipality, seccion
            FROM decided""")

    def _peers(self) -> str:
        """For a few new supports: their citizens' other supports in the process, as they stand, so the first
        support still counts and a later one is still the duplicate. (In bulk every support is a target.) The CROSS
        JOIN keeps SQLite's planner from scanning the process's supports: it starts from the few candidates."""
        if self.bulk:
            return ""
        return f"""UNION ALL
                SELECT s.id, s.aspirant_id, s.received_at, s.folio, s.status, s.situacion_registral, {_FLAGGED}, NULL,
                       s.citizen_key, s.state_code, s.district, s.municipality, s.seccion, s.situacion_detail,
                       CASE WHEN s.situacion_registral IN {_WOULD_COUNT} AND {_DECIDED_BY_COMPULSA}
                            THEN 'en_lista_nominal' ELSE 'kept' END
                FROM ({_SAME_CITIZEN}) AS same CROSS JOIN support AS s
                WHERE s.id = same.id AND s.process_id = :process
                  AND s.citizen_key IN (SELECT citizen_key FROM matched)
                  AND s.id NOT IN (SELECT t.id FROM target AS t)"""

    def write(self, now: datetime) -> int:
        changed = ("(s.status <> r.status OR s.situacion_registral <> r.situacion "
                   "OR COALESCE(s.situacion_detail, '') <> COALESCE(r.detail, ''))")
        moved = "(s.status <> r.status OR s.situacion_registral <> r.situacion)"
        placed = ("(COALESCE(s.seccion, -1) <> COALESCE(r.seccion, -1) "
                  "OR COALESCE(s.municipality, -1) <> COALESCE(r.municipality, -1) "
                  "OR COALESCE(s.district, -1) <> COALESCE(r.district, -1) "
                  "OR COALESCE(s.state_code, -1) <> COALESCE(r.state_code, -1))")
        self.params |= {"now": now, "cutoff": _cutoff(self.cutoff)}
        reason = (f"'Compulsa con la Lista Nominal con corte al ' || :cutoff || ': ' || "
                  f"{_case('r.situacion', _LABELS, 'r.situacion')} || "
                  f"COALESCE(' (' || r.detail || ')', '') || "
                  f"COALESCE('; coincide por ' || {_case('r.how', _HOW, 'NULL')}, '') || "
                  f"CASE WHEN {placed} AND s.seccion IS NOT NULL THEN '; cambia de sección en la Lista Nominal' "
                  f"ELSE '' END")
        # A support that only moved to another sección (a new cut-off of the roll) gets its event too: a report
        # by place never loses or gains a support without one.
        events = self._run(f"""
            INSERT INTO supportevent (support_id, from_status, to_status, situacion_registral, reason,
                                      actor_account_id, at, state_code, district, municipality, seccion)
            SELECT r.support_id, s.status, r.status, r.situacion, {reason}, NULL, :now,
                   r.state_code, r.district, r.municipality, r.seccion
            FROM compulsa_result AS r JOIN support AS s ON s.id = r.support_id WHERE {changed} OR {placed}""")
        if events:  # set-based rows: the commit chains them into the process's stream (registry/audit_chain.py)
            assert self.process.id is not None
            note_streams(self.session, [support_stream(self.process.id)])
        count_compulsa(self._run, moved=moved, placed=placed)  # before the supports change: it reads both states
        self._run(f"""
            UPDATE support AS s SET status = r.status, situacion_registral = r.situacion,
                situacion_detail = r.detail,
                citizen_key = r.citizen_key, state_code = r.state_code, district = r.district,
                municipality = r.municipality, seccion = r.seccion,
                updated_at = CASE WHEN {changed} OR {placed} THEN :now ELSE s.updated_at END
            FROM compulsa_result AS r
            WHERE s.id = r.support_id AND s.id IN (SELECT support_id FROM compulsa_result) AND ({changed}
               OR COALESCE(s.citizen_key, '') <> COALESCE(r.citizen_key, '') OR {placed})""")
        # Only the supports examined leave the queue: one received during a bulk run waits for the next pass.
        self._run("DELETE FROM pendingverification WHERE support_id IN (SELECT support_id FROM compulsa_result)")
        # And those a person already decided (an inconsistency on the paper form, an objection): nothing to do.
        if not self.bulk:  # the few supports asked for have all been seen
            self._run("DELETE FROM pendingverification WHERE support_id IN :ids")
        else:
            self._run(f"DELETE FROM pendingverification WHERE process_id = :process AND EXISTS (SELECT 1 FROM "
                      f"support AS s WHERE s.id = pendingverification.support_id AND NOT ({_DECIDED_BY_COMPULSA}))")
        return events


def _cutoff(cutoff: date) -> str:
    return cutoff.isoformat()
