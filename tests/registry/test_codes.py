import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.audit import AuditEvent
from core.clock import utcnow
from core.db import make_engine, session_scope
from registry.codes import (
    CODE_ALPHABET,
    CODE_LENGTH,
    DEFAULT_POLICY,
    CodeCheck,
    CodeOutcome,
    CodePolicy,
    CodeRefused,
    IssueRefusal,
    ReleasedBinding,
    check_code,
    consume_code,
    display_code,
    hash_code,
    issue_code,
)
from registry.models import ActivationCode, CredentialReading
from registry.states import ReadingSource
from tests.factories import add
from tests.factories.accounts import make_account
from tests.factories.processes import make_process

SECRET = "codes-test-secret-" + "y" * 30
QR = "http://qr.ine.mx/{:024d}/20200101/P/000001"


def reading(session: Session, *, cic: str = "123456789", qr_serial: int = 1, with_cic: bool = True,
            source: ReadingSource = ReadingSource.PIPELINE) -> int:
    row = add(session, CredentialReading(source=source, cic=cic if with_cic else None,
                                         qr_text=QR.format(qr_serial)))
    assert row.id is not None
    return row.id


def citizen(session: Session, name: str = "Ciudadana Prueba") -> int:
    account = make_account(session, name=name, email=f"{name.split()[0].lower()}@correo.mx")
    assert account.id is not None
    return account.id


def issue(session: Session, account_id: int, reading_id: int, now: datetime | None = None,
          policy: CodePolicy = DEFAULT_POLICY) -> str:
    result = issue_code(session=session, account_id=account_id, reading_id=reading_id, secret_key=SECRET,
                        now=now or utcnow(), policy=policy)
    assert result.issued is not None, result.refusal
    return result.issued.code


def check(session: Session, account_id: int, code: str, now: datetime | None = None,  # type: ignore[no-untyped-def]
          policy: CodePolicy = DEFAULT_POLICY):
    return check_code(session=session, account_id=account_id, code=code, secret_key=SECRET, now=now or utcnow(),
                      policy=policy)


@pytest.fixture
def open_process(session: Session) -> None:
    make_process(session)


@pytest.mark.usefixtures("open_process")
def test_a_code_is_short_unambiguous_and_only_its_hmac_is_stored(session: Session) -> None:
    account = citizen(session)
    code = issue(session, account, reading(session))
    stored = session.exec(select(ActivationCode)).one()
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert stored.code_hash == hash_code(code, secret_key=SECRET) and code not in stored.code_hash
    assert hash_code(code, secret_key="another-secret") != stored.code_hash
    assert (stored.cic, stored.qr_text) == ("123456789", QR.format(1))


@pytest.mark.usefixtures("open_process")
def test_the_code_is_accepted_as_displayed_and_as_typed_in_lower_case(session: Session) -> None:
    account = citizen(session)
    code = issue(session, account, reading(session))
    assert check(session, account, display_code(code)).outcome is CodeOutcome.VALID
    assert check(session, account, f" {code.lower()} ").outcome is CodeOutcome.VALID


@pytest.mark.usefixtures("open_process")
def test_a_code_expires_after_24_hours(session: Session) -> None:
    account, issued_at = citizen(session), utcnow()
    code = issue(session, account, reading(session), now=issued_at)
    assert check(session, account, code, issued_at + timedelta(hours=23, minutes=59)).outcome is CodeOutcome.VALID
    assert check(session, account, code, issued_at + timedelta(hours=24)).outcome is CodeOutcome.EXPIRED


def test_a_code_stops_working_when_the_collection_window_closes(session: Session) -> None:
    issued_at = utcnow()
    make_process(session, opens=issued_at - timedelta(days=3), closes=issued_at + timedelta(hours=2))
    account = citizen(session)
    code = issue(session, account, reading(session), now=issued_at)
    stored = session.exec(select(ActivationCode)).one()
    assert stored.expires_at == issued_at + timedelta(hours=2)
    assert check(session, account, code, issued_at + timedelta(hours=3)).outcome is CodeOutcome.EXPIRED


def test_no_code_is_issued_when_no_process_is_open(session: Session) -> None:
    make_process(session, opens=utcnow() - timedelta(days=30), closes=utcnow() - timedelta(days=1))
    result = issue_code(session=session, account_id=citizen(session), reading_id=reading(session),
                        secret_key=SECRET, now=utcnow())
    assert result.refusal is IssueRefusal.NO_OPEN_PROCESS


@pytest.mark.usefixtures("open_process")
def test_a_reading_without_cic_gets_no_code(session: Session) -> None:
    result = issue_code(session=session, account_id=citizen(session), reading_id=reading(session, with_cic=False),
                        secret_key=SECRET, now=utcnow())
    assert result.refusal is IssueRefusal.INCOMPLETE_READING


@pytest.mark.usefixtures("open_process")
def test_a_code_is_single_use(session: Session) -> None:
    account = citizen(session)
    code = issue(session, account, reading(session))
    code_id = check(session, account, code).code_id
    consume_code(session=session, account_id=account, code_id=code_id, now=utcnow())
    assert check(session, account, code).outcome is CodeOutcome.USED
    with pytest.raises(CodeRefused) as refused:
        consume_code(session=session, account_id=account, code_id=code_id, now=utcnow())
    assert refused.value.outcome is CodeOutcome.USED


@pytest.mark.usefixtures("open_process")
def test_wrong_codes_count_down_then_lock_the_code(session: Session) -> None:
    account = citizen(session)
    policy = CodePolicy(max_wrong_tries=3)
    code = issue(session, account, reading(session), policy=policy)
    results = [check(session, account, "ZZZZZZZZ", policy=policy) for _ in range(3)]
    assert [(r.outcome, r.attempts_left) for r in results] == [
        (CodeOutcome.WRONG, 2), (CodeOutcome.WRONG, 1), (CodeOutcome.LOCKED, 0)]
    assert check(session, account, code, policy=policy).outcome is CodeOutcome.LOCKED  # even the right one, now
    locked = session.exec(select(AuditEvent).where(AuditEvent.action == "activation_code_locked")).all()
    assert len(locked) == 1 and code not in locked[0].after_summary


@pytest.mark.usefixtures("open_process")
def test_the_default_policy_locks_after_five_wrong_tries(session: Session) -> None:
    account = citizen(session)
    issue(session, account, reading(session))
    outcomes = [check(session, account, "ZZZZZZZZ").outcome for _ in range(5)]
    assert outcomes == [CodeOutcome.WRONG] * 4 + [CodeOutcome.LOCKED]


@pytest.mark.usefixtures("open_process")
def test_a_new_code_invalidates_the_previous_one(session: Session) -> None:
    account, reading_id = citizen(session), reading(session)
    first = issue(session, account, reading_id)
    second = issue(session, account, reading_id)
    assert check(session, account, first).outcome is CodeOutcome.REPLACED
    assert check(session, account, second).outcome is CodeOutcome.VALID


@pytest.mark.usefixtures("open_process")
def test_another_accounts_code_is_just_a_wrong_code(session: Session) -> None:
    owner, other = citizen(session), citizen(session, "Otra Persona")
    code = issue(session, owner, reading(session))
    issue(session, other, reading(session, cic="999999999", qr_serial=2))
    assert check(session, other, code).outcome is CodeOutcome.WRONG


@pytest.mark.usefixtures("open_process")
def test_an_account_without_codes_is_told_so(session: Session) -> None:
    assert check(session, citizen(session), "ABCD2345").outcome is CodeOutcome.NONE_OPEN


@pytest.mark.usefixtures("open_process")
def test_code_requests_are_limited_per_account_and_day(session: Session) -> None:
    account, reading_id, start = citizen(session), reading(session), utcnow()
    policy = CodePolicy(max_codes_per_day=2)
    for minutes in (0, 1):
        issue(session, account, reading_id, now=start + timedelta(minutes=minutes), policy=policy)
    refused = issue_code(session=session, account_id=account, reading_id=reading_id, secret_key=SECRET,
                         now=start + timedelta(minutes=2), policy=policy)
    assert refused.refusal is IssueRefusal.TOO_MANY_CODES
    issue(session, account, reading_id, now=start + timedelta(days=1, minutes=1), policy=policy)


@pytest.mark.usefixtures("open_process")
@pytest.mark.parametrize("same", ["cic", "qr_text"])
def test_a_credential_bound_to_another_account_is_refused_and_audited(session: Session, same: str) -> None:
    first, second = citizen(session), citizen(session, "Segunda Persona")
    issue(session, first, reading(session, cic="111111111", qr_serial=1))
    other_reading = reading(session, cic="111111111" if same == "cic" else "222222222",
                            qr_serial=1 if same == "qr_text" else 2)
    result = issue_code(session=session, account_id=second, reading_id=other_reading, secret_key=SECRET,
                        now=utcnow())
    assert result.refusal is IssueRefusal.CREDENTIAL_TAKEN
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "activation_code_refused")).one()
    assert (audit.actor_account_id, audit.after_summary) == (second, "credential_bound_to_other_account")
    assert "111111111" not in audit.after_summary + audit.object_id
    assert len(session.exec(select(ActivationCode).where(col(ActivationCode.account_id) == second)).all()) == 0


@pytest.mark.usefixtures("open_process")
def test_the_same_account_may_ask_again_for_its_own_credential(session: Session) -> None:
    account = citizen(session)
    issue(session, account, reading(session))
    issue(session, account, reading(session))
    assert len(session.exec(select(ActivationCode)).all()) == 2


@pytest.mark.usefixtures("open_process")
def test_a_typed_cic_of_someone_else_gets_no_code(session: Session) -> None:
    """The attack: the photo's MRZ "could not be read", and another person's CIC (check digit and all) typed."""
    attacker = citizen(session, "Suplantadora Prueba")
    typed = reading(session, cic="183657717", qr_serial=7, source=ReadingSource.MANUAL)
    result = issue_code(session=session, account_id=attacker, reading_id=typed, secret_key=SECRET, now=utcnow())
    assert (result.issued, result.refusal) == (None, IssueRefusal.TYPED_READING)
    assert session.exec(select(ActivationCode)).all() == []
    audit = session.exec(select(AuditEvent).where(AuditEvent.action == "activation_code_refused")).one()
    assert audit.after_summary == "typed_identifier" and "183657717" not in audit.after_summary
    holder = citizen(session, "Titular Prueba")
    issue(session, holder, reading(session, cic="183657717", qr_serial=1))  # the real holder is not locked out


@pytest.mark.usefixtures("open_process")
def test_the_holder_claims_a_credential_bound_to_another_account_with_a_full_read(session: Session) -> None:
    impostor, holder = citizen(session, "Suplantadora Prueba"), citizen(session, "Titular Prueba")
    impostor_code = issue(session, impostor, reading(session, cic="183657717", qr_serial=7))
    held = reading(session, cic="183657717", qr_serial=1)
    refused = issue_code(session=session, account_id=holder, reading_id=held, secret_key=SECRET, now=utcnow())
    assert refused.refusal is IssueRefusal.CREDENTIAL_TAKEN and refused.released == ()
    claimed = issue_code(session=session, account_id=holder, reading_id=held, secret_key=SECRET, now=utcnow(),
                         claim=True)
    assert claimed.issued is not None
    assert claimed.released == (ReleasedBinding(account_id=impostor, cic="183657717"),)
    assert check(session, impostor, impostor_code).outcome is CodeOutcome.REPLACED  # no more supports from there
    assert check(session, holder, claimed.issued.code).outcome is CodeOutcome.VALID
    again = issue_code(session=session, account_id=impostor, reading_id=reading(session, cic="183657717", qr_serial=7),
                       secret_key=SECRET, now=utcnow())
    assert again.refusal is IssueRefusal.CREDENTIAL_TAKEN  # the binding moved to the holder
    issue(session, holder, held)  # and stays there without claiming again


@pytest.mark.usefixtures("open_process")
def test_a_claim_needs_a_machine_read(session: Session) -> None:
    holder, claimant = citizen(session, "Titular Prueba"), citizen(session, "Reclamante Prueba")
    issue(session, holder, reading(session, cic="183657717", qr_serial=1))
    typed = reading(session, cic="183657717", qr_serial=2, source=ReadingSource.MANUAL)
    result = issue_code(session=session, account_id=claimant, reading_id=typed, secret_key=SECRET, now=utcnow(),
                        claim=True)
    assert (result.refusal, result.released) == (IssueRefusal.TYPED_READING, ())
    codes = session.exec(select(ActivationCode)).all()
    assert [(code.account_id, code.invalidated_at) for code in codes] == [(holder, None)]


RACERS = 40


def test_concurrent_wrong_codes_are_each_counted_and_lock_the_code_once(engine: Engine, database_url: str) -> None:
    """40 wrong codes at once, each request in its own connection: exactly the allowed 5 are answered as counted
    tries (4 WRONG, then the LOCKED that used the last try); all the others find the code locked."""
    app_engine = make_engine(database_url)  # configured like the app's (on SQLite, writers queue at BEGIN)
    with session_scope(engine) as session:
        make_process(session)
        account = citizen(session)
        code = issue(session, account, reading(session))
    start = threading.Barrier(RACERS)

    def wrong(_: int) -> CodeCheck:
        start.wait()
        with session_scope(app_engine) as session:
            return check(session, account, "ZZZZZZZZ")

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(wrong, range(RACERS)))
    app_engine.dispose()
    wrong_answers = sorted(answer.attempts_left for answer in answers if answer.outcome is CodeOutcome.WRONG)
    assert wrong_answers == [1, 2, 3, 4]
    assert Counter(answer.outcome for answer in answers) == {CodeOutcome.WRONG: 4, CodeOutcome.LOCKED: 36}
    with Session(engine) as session:
        stored = session.exec(select(ActivationCode)).one()
        assert stored.failed_attempts == DEFAULT_POLICY.max_wrong_tries and stored.invalidated_at is not None
        locks = session.exec(select(AuditEvent).where(AuditEvent.action == "activation_code_locked")).all()
        assert len(locks) == 1
        assert check(session, account, code).outcome is CodeOutcome.LOCKED  # the right code, after the lock
