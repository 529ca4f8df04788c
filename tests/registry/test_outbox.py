"""Mail goes through a real local SMTP server (aiosmtpd), not a mock."""

import socket
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from sqlmodel import Session, select

from core.audit import OutboxMessage
from core.clock import utcnow
from registry.outbox import MailSettings, deliver_pending, queue_mail


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
