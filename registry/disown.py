"""«Yo no di este apoyo»: a citizen reports that a support given with their account is not theirs.

Nobody here decides whether the report is true: the support gets the DISOWNED flag (registry.review.flags) and a
person at the mesa de control looks at it. Until then it does not count: a valid or pending support goes back to
review (the compulsa keeps a flagged support there), one already rejected stays rejected but carries the flag, so
an objection of the aspirant cannot restore it without the reviewer seeing the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from core.audit import record_audit
from registry.models import Support
from registry.review.flags import add_flag, flags_of
from registry.states import PENDING, ReviewFlag, SupportStatus
from registry.supports import record_transition

DISOWN_REASON = "la persona ciudadana informa que no dio este apoyo"
# What goes back to the desk; a contested support is already there (under objection) and keeps its state.
BACK_TO_REVIEW = PENDING | {SupportStatus.VALID}


class UnknownSupport(LookupError):
    """No support with this folio was given with this account (another account's folio looks the same)."""


@dataclass(frozen=True)
class DisownResult:
    folio: str
    reported_now: bool  # False: it was reported before, and nothing changed
    status: SupportStatus


def disown_support(*, session: Session, account_id: int, folio: str, now: datetime) -> DisownResult:
    """Flag the citizen's own support as never given and send it to review; raises UnknownSupport."""
    support = session.exec(select(Support).where(Support.folio == folio,
                                                 Support.citizen_account_id == account_id)).first()
    if support is None or support.id is None:
        raise UnknownSupport(folio)
    return flag_disowned(session=session, support=support, actor_account_id=account_id, now=now)


def flag_disowned(*, session: Session, support: Support, actor_account_id: int | None, now: datetime,
                  via: str = "") -> DisownResult:
    """The report itself, whoever proved the support is theirs (a signed-in citizen's account, or the credential
    on the public «Verifica tu apoyo» page: `actor_account_id` None, `via` names that page in the audit)."""
    assert support.id is not None
    if not add_flag(session=session, support_id=support.id, flag=ReviewFlag.DISOWNED, detail=DISOWN_REASON,
                    now=now):
        return DisownResult(folio=support.folio, reported_now=False, status=support.status)
    before = support.status
    if before in BACK_TO_REVIEW:
        record_transition(session=session, support=support, to_status=SupportStatus.IN_REVIEW,
                          situacion=support.situacion_registral, reason=DISOWN_REASON,
                          actor_account_id=actor_account_id, now=now)
    after = f"status={support.status}" + (f"; via={via}" if via else "")
    record_audit(session, action="support_disowned", actor_account_id=actor_account_id, object_type="support",
                 object_id=support.id, before=f"status={before}", after=after)
    return DisownResult(folio=support.folio, reported_now=True, status=support.status)


def disowned_ids(*, session: Session, support_ids: list[int]) -> set[int]:
    """Which of these supports their citizen reported as never given."""
    flagged = flags_of(session=session, support_ids=support_ids)
    return {support_id for support_id, flags in flagged.items()
            if any(flag.flag is ReviewFlag.DISOWNED for flag in flags)}
