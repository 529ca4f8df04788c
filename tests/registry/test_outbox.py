"""Mail goes through a real local SMTP server (aiosmtpd), not a mock."""

import os
import socket
import stat
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from sqlmodel import Session, select

from core.audit import OutboxMessage
from core.clock import utcnow
from registry.outbox import MAX_ATTEMPTS, MailSettings, deliver_pending, erase_spent_bodies, queue_mail


class _Inbox(Sink):
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[_Inbox, int]]:
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_mail_is_delivered_over_smtp_once(session: Session, smtp_inbox: tuple[_Inbox, int]) -> None:
    inbox, port = smtp_inbox
    mail = MailSettings(sender="no-responder@registro.local", smtp_host="127.0.0.1", smtp_port=port)
    queue_mail(session=session, to_address="ana@example.mx", subject="Tu código", body="Código: ABCD2345")
    session.commit()
    assert deliver_pending(session=session, mail=mail, now=utcnow()) == 1
    assert deliver_pending(session=session, mail=mail, now=utcnow()) == 0
    received = message_from_bytes(inbox.messages[0])
    assert received["To"] == "ana@example.mx" and "ABCD2345" in received.get_payload()


def test_a_down_smtp_server_keeps_the_message_for_a_retry(session: Session) -> None:
    mail = MailSettings(sender="x@registro.local", smtp_host="127.0.0.1", smtp_port=_free_port())
    queue_mail(session=session, to_address="ana@example.mx", subject="s", body="b")
    assert deliver_pending(session=session, mail=mail, now=utcnow()) == 0
    stored = session.exec(select(OutboxMessage)).one()
    assert stored.sent_at is None and stored.attempts == 1 and stored.last_error == "ConnectionRefusedError"


def test_without_smtp_mail_lands_in_the_outbox_folder(session: Session, tmp_path: Path) -> None:
    mail = MailSettings(sender="x@registro.local", outbox_dir=tmp_path)
    queue_mail(session=session, to_address="ana@example.mx", subject="s", body="hola")
    session.flush()
    assert deliver_pending(session=session, mail=mail, now=utcnow()) == 1
    (written,) = tmp_path.glob("*.eml")
    assert b"hola" in written.read_bytes()


# ---------------------------------------------------------------- secrets at rest: bodies and files


CODE = "ABCD-2345"


def _only_row(session: Session) -> OutboxMessage:
    """The row as stored in the database (committed, then read again)."""
    session.commit()
    session.expire_all()
    return session.exec(select(OutboxMessage)).one()


def test_a_delivered_body_no_longer_holds_the_code(session: Session, smtp_inbox: tuple[_Inbox, int]) -> None:
    inbox, port = smtp_inbox
    mail = MailSettings(sender="no-responder@registro.local", smtp_host="127.0.0.1", smtp_port=port)
    queue_mail(session=session, to_address="ana@example.mx", subject="Tu código", body=f"Código: {CODE}")
    session.commit()
    assert deliver_pending(session=session, mail=mail, now=utcnow()) == 1
    session.commit()
    assert CODE in message_from_bytes(inbox.messages[0]).get_payload()  # the citizen got it
    stored = _only_row(session)
    assert stored.sent_at is not None and CODE not in stored.body and stored.body == ""


def test_a_failed_send_keeps_the_body_for_the_retry_that_then_delivers_it(
        session: Session, smtp_inbox: tuple[_Inbox, int]) -> None:
    inbox, port = smtp_inbox
    down = MailSettings(sender="x@registro.local", smtp_host="127.0.0.1", smtp_port=_free_port())
    queue_mail(session=session, to_address="ana@example.mx", subject="s", body=f"Código: {CODE}")
    assert deliver_pending(session=session, mail=down, now=utcnow()) == 0
    assert CODE in _only_row(session).body
    up = MailSettings(sender="x@registro.local", smtp_host="127.0.0.1", smtp_port=port)
    assert deliver_pending(session=session, mail=up, now=utcnow()) == 1
    assert CODE in message_from_bytes(inbox.messages[0]).get_payload() and _only_row(session).body == ""


def test_a_message_given_up_no_longer_holds_the_code(session: Session) -> None:
    down = MailSettings(sender="x@registro.local", smtp_host="127.0.0.1", smtp_port=_free_port())
    queue_mail(session=session, to_address="ana@example.mx", subject="s", body=f"Código: {CODE}")
    for _attempt in range(MAX_ATTEMPTS - 1):
        deliver_pending(session=session, mail=down, now=utcnow())
    assert CODE in _only_row(session).body  # still to be retried once more
    deliver_pending(session=session, mail=down, now=utcnow())
    stored = _only_row(session)
    assert (stored.attempts, stored.sent_at, stored.body) == (MAX_ATTEMPTS, None, "")


def test_without_any_way_to_deliver_mail_waits_untouched(session: Session) -> None:
    queue_mail(session=session, to_address="ana@example.mx", subject="s", body=f"Código: {CODE}")
    assert deliver_pending(session=session, mail=MailSettings(sender="x@registro.local"), now=utcnow()) == 0
    stored = _only_row(session)
    assert (stored.attempts, stored.sent_at, CODE in stored.body) == (0, None, True)


def test_the_development_mailbox_is_private_and_its_row_holds_no_code(session: Session, tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        outbox = tmp_path / "var" / "outbox"
        mail = MailSettings(sender="x@registro.local", outbox_dir=outbox)
        queue_mail(session=session, to_address="ana@example.mx", subject="s", body=f"Código: {CODE}")
        session.flush()
        assert deliver_pending(session=session, mail=mail, now=utcnow()) == 1
    finally:
        os.umask(previous)
    (written,) = outbox.glob("*.eml")
    assert CODE.encode() in written.read_bytes()  # the developer's mailbox is the delivered mail
    assert (stat.S_IMODE(outbox.stat().st_mode), stat.S_IMODE(written.stat().st_mode)) == (0o700, 0o600)
    assert _only_row(session).body == ""


def test_bodies_of_mail_sent_before_the_erasure_are_emptied_by_the_upgrade(session: Session) -> None:
    sent = queue_mail(session=session, to_address="ana@example.mx", subject="s", body=f"Código: {CODE}")
    given_up = queue_mail(session=session, to_address="beto@example.mx", subject="s", body=f"Código: {CODE}")
    queue_mail(session=session, to_address="eva@example.mx", subject="s", body=f"Código: {CODE}")
    sent.sent_at, given_up.attempts = utcnow(), MAX_ATTEMPTS
    session.commit()
    assert erase_spent_bodies(session=session) == 2
    session.commit()
    session.expire_all()
    bodies = {row.to_address: row.body for row in session.exec(select(OutboxMessage))}
    assert bodies == {"ana@example.mx": "", "beto@example.mx": "", "eva@example.mx": f"Código: {CODE}"}
