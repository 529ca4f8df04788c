"""E-mail through a durable outbox: a message is written in the same transaction as what caused it, then
delivered (SMTP when configured, otherwise, outside production, an .eml file in the data dir for development).

Bodies carry live secrets (activation codes, invitation links), so a body is kept only while it may still be
sent: once delivered, or once given up after MAX_ATTEMPTS, it is emptied. A failed attempt keeps it for the
retry. Without any way to deliver (production without an SMTP host), nothing is attempted: the mail waits."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from sqlmodel import Session, col, or_, select

from core.audit import OutboxMessage
from core.files import private_directory, write_private

MAX_ATTEMPTS = 8
SPENT_BODY = ""  # what is left of a body that was delivered or given up

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailSettings:
    sender: str
    smtp_host: str = ""
    smtp_port: int = 25
    outbox_dir: Path | None = None


def queue_mail(*, session: Session, to_address: str, subject: str, body: str) -> OutboxMessage:
    message = OutboxMessage(to_address=to_address, subject=subject, body=body)
    session.add(message)
    return message


def deliver_pending(*, session: Session, mail: MailSettings, now: datetime, limit: int = 50) -> int:
    """Send what is waiting; a failure is counted and retried on the next call. Returns how many were sent."""
    if not mail.smtp_host and mail.outbox_dir is None:
        log.warning("mail waits in the outbox: no SMTP host is configured")
        return 0
    pending = session.exec(
        select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
        .order_by(col(OutboxMessage.id)).limit(limit)
    ).all()
    sent = 0
    for message in pending:
        message.attempts += 1
        try:
            _deliver(_as_email(message, mail.sender), mail, message.id)
        except (OSError, smtplib.SMTPException) as error:
            message.last_error = type(error).__name__  # never the address or body: they are personal data
            if message.attempts >= MAX_ATTEMPTS:
                message.body = SPENT_BODY  # never retried again: the code or link inside must not stay
        else:
            message.sent_at, message.last_error, message.body, sent = now, None, SPENT_BODY, sent + 1
        session.add(message)
    return sent


def erase_spent_bodies(*, session: Session) -> int:
    """Empty the bodies of mail sent or given up before bodies were erased on delivery (run by `registro
    migrate`). Returns how many were emptied."""
    spent = session.exec(select(OutboxMessage).where(
        OutboxMessage.body != SPENT_BODY,
        or_(col(OutboxMessage.sent_at).is_not(None), OutboxMessage.attempts >= MAX_ATTEMPTS))).all()
    for message in spent:
        message.body = SPENT_BODY
        session.add(message)
    return len(spent)


def _as_email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = sender, message.to_address, message.subject
    email.set_content(message.body)
    return email


def _deliver(email: EmailMessage, mail: MailSettings, message_id: int | None) -> None:
    if mail.smtp_host:
        with smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=10) as smtp:
            smtp.send_message(email)
        return
    if mail.outbox_dir is None:
        raise OSError("no SMTP host and no outbox folder configured")
    # The development mailbox: the file is the delivered mail (it must hold the code), so it is the
    # service account's alone (core.files); production never writes mail to disk (web.app passes no folder).
    private_directory(mail.outbox_dir)
    write_private(mail.outbox_dir / f"{message_id:08d}.eml", bytes(email))


def mail_settings(*, sender: str, smtp_host: str, smtp_port: int, outbox_dir: Path | None) -> MailSettings:
    return MailSettings(sender=sender, smtp_host=smtp_host, smtp_port=smtp_port, outbox_dir=outbox_dir)
