"""The aspirant's list of supports that do not count, at the size of a real aspirant (a hundred thousand supports,
bench/desk.py): its counts and both filters' counts come from one grouped read of the aspirant's supports, not a
scan each, and stay what counting each alone gives."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from auth.roles import Role
from registry.objections.rejected import RejectedQuery, rejected_page
from registry.states import Channel, SituacionRegistral
from tests.factories.accounts import make_account
from tests.factories.objections import inconsistent_support, rejected_support, valid_support
from tests.factories.processes import make_aspirant
from tests.factories.roll import place_support
from tests.factories.sql import reads_of


def test_the_list_reads_the_aspirants_supports_twice_and_counts_under_the_other_filter(session: Session,
                                                                                        engine: Engine) -> None:
    """The page's rows, and one tally for the counts and both filters' counts (four reads before)."""
    aspirant = make_aspirant(session)
    reviewer = make_account(session, role=Role.REVIEWER)
    assert aspirant.id is not None and reviewer.id is not None
    valid_support(session, aspirant=aspirant)
    place_support(session, aspirant_id=aspirant.id, process_id=aspirant.process_id, cic="111111111")
    rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.BAJA, channel=Channel.PAPER)
    rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.BAJA)
    rejected_support(session, aspirant=aspirant, situacion=SituacionRegistral.FUERA_DE_AMBITO, channel=Channel.PAPER)
    inconsistent_support(session, aspirant=aspirant, reviewer_account_id=reviewer.id)
    with reads_of(engine, "support") as reads:
        page = rejected_page(session=session, query=RejectedQuery(aspirant_id=aspirant.id, channel=Channel.PAPER,
                                                                  category=SituacionRegistral.BAJA))
    assert len(reads) == 2, reads
    assert (page.counts.valid, page.counts.not_counting, page.counts.pending) == (1, 4, 1)
    assert page.by_category == {SituacionRegistral.BAJA: 1, SituacionRegistral.FUERA_DE_AMBITO: 1}  # paper only
    assert page.by_channel == {Channel.PAPER: 1, Channel.AUXILIARY: 1}  # baja only
    assert len(page.rows) == 1
