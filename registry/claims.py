"""What follows a claim (see registry.codes): a person showed, with a full machine read of the credential's back,
that a credential bound to another account is theirs. Nobody here decides who really holds it: the earlier
account's supports given with it go to the mesa de control (an event on each, nothing deleted or invalidated),
the earlier account is told by e-mail, and the audit trail keeps one row per account the binding left."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, col, select

from auth.models import Account
from core.audit import record_audit
from core.sealing import blind_in
from registry.codes import ReleasedBinding
from registry.models import Support
from registry.outbox import queue_mail
from registry.review.flags import add_flag
from registry.states import NEEDS_REVIEW, ReviewFlag, SupportStatus
from registry.supports import record_transition

CLAIM_REASON = "credencial reclamada desde otra cuenta con lectura completa de su reverso: revisar"

# () -> (subject, body) of the notice to the earlier account, in the web layer's words; it names no credential
# and not the claimant, so the notice tells nobody more than that their binding moved.
NoticeComposer = Callable[[], tuple[str, str]]


def settle_claim(*, session: Session, claimant_id: int, released: tuple[ReleasedBinding, ...], now: datetime,
                 compose: NoticeComposer) -> int:
    """Flag the earlier accounts' supports, notify them and audit the move; returns how many supports it flagged."""
    flagged_total = 0
    for account_id in sorted({binding.account_id for binding in released}):
        cics = [binding.cic for binding in released if binding.account_id == account_id]
        flagged = flag_supports(session=session, account_id=account_id, cics=cics, actor=claimant_id, now=now)
        _notify(session, account_id, compose)
        record_audit(session, action="credential_claimed", actor_account_id=claimant_id, object_type="account",
                     object_id=account_id, after=f"binding_moved_to_claimant supports_flagged={flagged}")
        flagged_total += flagged
    return flagged_total


def flag_supports(*, session: Session, account_id: int, cics: list[str], actor: int, now: datetime) -> int:
    """Every support this account gave with these CICs gets an event for the mesa de control; those not already
    under review (or rejected) go to review, so none counts until a person has looked at it."""
    supports = session.exec(select(Support).where(Support.citizen_account_id == account_id,
                                                  blind_in(col(Support.cic_bidx), cics, "cic"))).all()
    for support in supports:
        assert support.id is not None
        add_flag(session=session, support_id=support.id, flag=ReviewFlag.CLAIMED, detail=CLAIM_REASON, now=now)
        keep = support.status in NEEDS_REVIEW | {SupportStatus.INVALID}
        record_transition(session=session, support=support,
                          to_status=support.status if keep else SupportStatus.IN_REVIEW,
                          situacion=support.situacion_registral, reason=CLAIM_REASON, actor_account_id=actor,
                          now=now)
    return len(supports)


def _notify(session: Session, account_id: int, compose: NoticeComposer) -> None:
    account = session.get(Account, account_id)
    if account is not None and account.email:
        subject, body = compose()
        queue_mail(session=session, to_address=account.email, subject=subject, body=body)
