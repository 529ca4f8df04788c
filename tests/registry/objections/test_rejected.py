"""What the aspirant sees of the supports that do not count: counts, filters with counts per value, pages, the
reviewer's inconsistency and comment, and one support's detail, only for the aspirant's own supports."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from auth.roles import Role
from core.clock import utcnow
from registry.objections import rejected
from registry.objections.filing import Refusal, file_objections
from registry.objections.rejected import RejectedQuery, rejected_page, support_counts, support_detail
from registry.states import Channel, ObjectionState, SituacionRegistral, SupportStatus
from tests.factories.accounts import make_account
from tests.factories.objections import inconsistent_support, rejected_support, uphold, valid_support
from tests.factories.processes import make_aspirant
from tests.factories.roll import place_support


def _account(session: Session, aspirant_id: int) -> int:
    account = make_account(session, role=Role.ASPIRANT, aspirant_id=aspirant_id)
    assert account.id is not None
    return account.id


def test_counts_split_what_counts_what_does_not_what_is_contested_and_what_is_pending(session: Session) -> None:
    aspirant = make_aspirant(session)
    assert aspirant.id is not None
    valid_support(session, aspirant=aspirant)
    rejected_support(session, aspirant=aspirant)
    contested = rejected_support(session, aspirant=aspirant)
    place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic="111111111")
    assert contested.id is not None
    file_objections(session=session, aspirant_ids={aspirant.id}, support_ids=[contested.id], argument="vigente",
                    actor_account_id=_account(session, aspirant.id), now=utcnow())
    counts = support_counts(session=session, aspirant_id=aspirant.id)
    assert (counts.valid, counts.not_counting, counts.contested, counts.pending) == (1, 2, 1, 1)


def test_an_upheld_objection_moves_the_counts(session: Session) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant)
    assert aspirant.id is not None and support.id is not None
    reviewer = make_account(session, role=Role.REVIEWER)
    assert reviewer.id is not None
    file_objections(session=session, aspirant_ids={aspirant.id}, support_ids=[support.id], argument="vigente",
                    actor_account_id=_account(session, aspirant.id), now=utcnow())
    uphold(session, support=support, reviewer_account_id=reviewer.id, resolution="La credencial está vigente")
    counts = support_counts(session=session, aspirant_id=aspirant.id)
    assert (counts.valid, counts.not_counting, counts.contested) == (1, 0, 0)
    detail = support_detail(session=session, aspirant_ids={aspirant.id}, support_id=support.id, now=utcnow())
    assert detail is not None and detail.support.status is SupportStatus.VALID
    assert [(o.state, o.resolution) for o in detail.objections] == [
        (ObjectionState.UPHELD, "La credencial está vigente")]
    assert detail.objection_refusal is Refusal.NOT_REJECTED


def test_the_list_shows_only_supports_that_do_not_count_with_the_reviewers_inconsistency(session: Session) -> None:
    aspirant = make_aspirant(session)
    assert aspirant.id is not None
    reviewer = make_account(session, role=Role.REVIEWER)
    assert reviewer.id is not None
    valid_support(session, aspirant=aspirant)
    plain = rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.BAJA)
    copied = inconsistent_support(session, aspirant=aspirant, reviewer_account_id=reviewer.id,
                                  comment="Se ve la trama de la fotocopia")
    page = rejected_page(session=session, query=RejectedQuery(aspirant_id=aspirant.id))
    assert [row.folio for row in page.rows] == [copied.folio, plain.folio]  # newest first
    decision = page.rows[0].decision
    assert decision is not None and decision.inconsistency is not None
    assert (decision.inconsistency.text("es"), decision.inconsistency.text("en"), decision.comment) == (
        "Fotocopia de la credencial", "Photocopy of the credential", "Se ve la trama de la fotocopia")
    assert page.rows[1].decision is None and page.rows[1].situacion is SituacionRegistral.BAJA


def test_filters_narrow_the_list_and_count_per_value_under_the_other_filter(session: Session) -> None:
    aspirant = make_aspirant(session)
    assert aspirant.id is not None
    rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.BAJA, channel=Channel.PAPER)
    rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.BAJA)
    rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.FUERA_DE_AMBITO)
    page = rejected_page(session=session, query=RejectedQuery(aspirant_id=aspirant.id,
                                                              category=SituacionRegistral.BAJA))
    assert len(page.rows) == 2 and {row.situacion for row in page.rows} == {SituacionRegistral.BAJA}
    assert page.by_category == {SituacionRegistral.BAJA: 2, SituacionRegistral.FUERA_DE_AMBITO: 1}
    assert page.by_channel == {Channel.PAPER: 1, Channel.AUXILIARY: 1}
    paper = rejected_page(session=session, query=RejectedQuery(aspirant_id=aspirant.id, channel=Channel.PAPER))
    assert [row.channel for row in paper.rows] == [Channel.PAPER]
    assert paper.by_category == {SituacionRegistral.BAJA: 1}


def test_pages_follow_each_other_without_gaps_or_repeats(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    aspirant = make_aspirant(session)
    assert aspirant.id is not None
    made = [rejected_support(session, aspirant=aspirant).folio for _ in range(5)]
    seen: list[str] = []
    before: int | None = None
    monkeypatch.setattr(rejected, "PAGE_SIZE", 2)  # the real size (50) would need a hundred supports
    while True:
        page = rejected_page(session=session, query=RejectedQuery(aspirant_id=aspirant.id, before_id=before))
        assert len(page.rows) <= 2
        seen += [row.folio for row in page.rows]
        if page.next_before_id is None:
            break
        before = page.next_before_id
    assert seen == list(reversed(made))


def test_the_list_marks_open_and_answered_objections(session: Session) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant)
    assert aspirant.id is not None and support.id is not None
    file_objections(session=session, aspirant_ids={aspirant.id}, support_ids=[support.id], argument="vigente",
                    actor_account_id=_account(session, aspirant.id), now=utcnow())
    [row] = rejected_page(session=session, query=RejectedQuery(aspirant_id=aspirant.id)).rows
    assert (row.status, row.objection) == (SupportStatus.CONTESTED, ObjectionState.FILED)


def test_the_detail_is_only_for_the_aspirant_who_owns_the_support(session: Session) -> None:
    mine, theirs = make_aspirant(session), make_aspirant(session, name="Otra Persona")
    other = rejected_support(session, aspirant=theirs)
    assert mine.id is not None and theirs.id is not None and other.id is not None
    assert support_detail(session=session, aspirant_ids={mine.id}, support_id=other.id, now=utcnow()) is None
    assert support_detail(session=session, aspirant_ids={theirs.id}, support_id=other.id, now=utcnow()) is not None


def test_the_detail_shows_what_was_captured_the_history_and_that_it_can_be_contested(session: Session) -> None:
    aspirant = make_aspirant(session)
    support = rejected_support(session, aspirant=aspirant, cic="123456789", clave_elector="LOPEMA90010126H100",
                               ocr="1234567890123")
    assert aspirant.id is not None and support.id is not None
    detail = support_detail(session=session, aspirant_ids={aspirant.id}, support_id=support.id, now=utcnow())
    assert detail is not None
    assert (detail.captured.cic, detail.captured.clave_elector, detail.captured.ocr) == (
        "123456789", "LOPEMA90010126H100", "1234567890123")
    assert [e.status for e in detail.history] == [SupportStatus.RECEIVED, SupportStatus.INVALID]
    assert detail.objection_refusal is None and detail.images == [] and detail.objections == []
