"""«Verifica tu apoyo»: anyone who holds a voter credential sees whether a support was registered with it, and for
which aspirant, and may report one they never gave (registry.disown's flag: the mesa de control looks at it).

Holding the credential is proved by two identifiers that must belong to the SAME support or the SAME citizen of
the roll: the clave de elector (front) and the CIC (back). Neither alone finds anything, so a clave seen on a
photocopy or a list is not enough. A support matches when
- it carries both (paper and typed captures carry the clave, the phone channels the CIC);
- it carries the CIC and the compulsa tied it to that clave's citizen (its `citizen_key`, the roll's clave);
- the roll in force lists this clave WITH this CIC (the current credential's holder): then every support of that
  citizen, also ones given with an older credential (found by the roll's OCR or identificador ciudadano, which the
  compulsa used for them), or with only the clave or only the CIC, not yet verified.
The same statements run whether or not anything matches, and the answer carries nothing but the aspirant, the
process, the day received and whether it counts: no folio, no auxiliary, no image, nothing of the roll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import Boolean, ColumnElement, and_, literal, or_
from sqlmodel import Session, col, select

from core.sealing import blind_match
from registry.disown import DisownResult, disowned_ids, flag_disowned
from registry.models import Aspirant, CredentialReading, Process, RollEntry, RollImport, Support
from registry.states import PENDING, RollImportState, SupportStatus

TOKEN_LIFETIME = timedelta(minutes=15)  # long enough to read the answer and decide, short enough to go stale
_NOWHERE = "-"  # an identifier no reading holds: keeps the statements the same when the roll proves nothing


class Standing(StrEnum):
    COUNTS = "counts"
    DOES_NOT_COUNT = "does_not_count"
    PENDING = "pending"  # being verified, at the mesa de control or under objection


@dataclass(frozen=True)
class FoundSupport:
    support_id: int
    aspirant_name: str
    process_name: str
    office: str
    received_day: date
    standing: Standing
    disowned: bool


class InvalidToken(ValueError):
    """A «No di este apoyo» token that is forged, expired or for no support."""


def find_supports(*, session: Session, clave: str, cic: str) -> list[FoundSupport]:
    """The supports given with the credential (clave, cic): both already normalised and well formed."""
    # Personal columns are sealed: every comparison is between blind indexes (core/sealing.py).
    holder = session.exec(
        select(RollEntry.ocr_bidx, RollEntry.identificador_bidx)
        .join(RollImport, col(RollImport.id) == col(RollEntry.roll_import_id))
        .where(RollImport.state == RollImportState.CURRENT, blind_match(col(RollEntry.clave_elector_bidx), clave,
                                                                        "clave_elector"),
               blind_match(col(RollEntry.cic_bidx), cic, "cic"))
    ).first()
    proven = holder is not None
    ocr, identificador = (holder[0] or _NOWHERE, holder[1] or _NOWHERE) if holder else (_NOWHERE, _NOWHERE)
    # Earlier credentials of the same citizen: readings with the roll's OCR or identificador (indexed), which
    # the compulsa then tied to this clave. Run even when nothing is proven, with identifiers that match nothing.
    reading_ids = list(session.exec(
        select(CredentialReading.id).where(or_(col(CredentialReading.ocr_bidx) == ocr,
                                               col(CredentialReading.identificador_bidx) == identificador))
    ).all())
    same_cic = blind_match(col(Support.cic_bidx), cic, "cic")
    same_clave = blind_match(col(Support.clave_elector_bidx), clave, "clave_elector")
    same_citizen = blind_match(col(Support.citizen_key), clave, "clave_elector")
    rows = session.exec(
        select(Support, Aspirant, Process)
        .join(Aspirant, col(Aspirant.id) == col(Support.aspirant_id))
        .join(Process, col(Process.id) == col(Support.process_id))
        .where(or_(same_cic, same_clave, col(Support.reading_id).in_(reading_ids)))  # the indexed candidates
        .where(or_(and_(same_clave, same_cic), and_(same_cic, same_citizen),
                   and_(_flag(proven), or_(same_cic, same_clave, same_citizen))))
        .order_by(col(Support.received_at), col(Support.id))
    ).all()
    supports = [row[0] for row in rows]
    disowned = disowned_ids(session=session, support_ids=[s.id for s in supports if s.id is not None])
    return [_found(support, aspirant, process, disowned) for support, aspirant, process in rows]


def _flag(proven: bool) -> ColumnElement[bool]:
    """The roll's proof as a bound parameter: one statement text serves both answers."""
    return literal(proven, Boolean)


def _found(support: Support, aspirant: Aspirant, process: Process, disowned: set[int]) -> FoundSupport:
    assert support.id is not None
    return FoundSupport(support_id=support.id, aspirant_name=aspirant.full_name, process_name=process.name,
                        office=process.office,
                        received_day=support.received_at.astimezone(ZoneInfo(process.timezone)).date(),
                        standing=standing_of(support.status), disowned=support.id in disowned)


def standing_of(status: SupportStatus) -> Standing:
    if status is SupportStatus.VALID:
        return Standing.COUNTS
    if status in PENDING or status is SupportStatus.CONTESTED:
        return Standing.PENDING
    return Standing.DOES_NOT_COUNT


# ---------------------------------------------------------------- the «No di este apoyo» token


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="registro-verifica-no-lo-di")


def disown_token(*, secret: str, support_id: int, now: datetime) -> str:
    """Signed: this support and until when (the app's clock). Issued only in the answer to a proved credential,
    so whoever posts it has held the credential minutes ago; the folio alone opens nothing."""
    until = int((now + TOKEN_LIFETIME).timestamp())
    return str(_serializer(secret).dumps({"apoyo": support_id, "hasta": until}))


def open_disown_token(*, secret: str, token: str, now: datetime) -> int:
    """The support a genuine, unexpired token names; raises InvalidToken."""
    try:
        sealed = _serializer(secret).loads(token)
    except BadData as error:
        raise InvalidToken("forged") from error
    if not isinstance(sealed, dict) or not isinstance(sealed.get("apoyo"), int) \
            or not isinstance(sealed.get("hasta"), int):
        raise InvalidToken("malformed")
    if int(now.timestamp()) > sealed["hasta"]:
        raise InvalidToken("expired")
    return int(sealed["apoyo"])


def disown_verified(*, session: Session, secret: str, token: str, now: datetime) -> DisownResult:
    """Flag the support the token names as never given (raises InvalidToken)."""
    support = session.get(Support, open_disown_token(secret=secret, token=token, now=now))
    if support is None:
        raise InvalidToken("gone")
    return flag_disowned(session=session, support=support, actor_account_id=None, now=now, via="verifica")
