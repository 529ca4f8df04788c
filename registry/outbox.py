"""E-mail through a durable outbox: a message is written in the same transaction as what caused it, then
delivered (SMTP when configured, otherwise an .eml file in the data dir for development)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from sqlmodel import Session, col, select

from core.audit import OutboxMessage

MAX_ATTEMPTS = 8


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
        else:
            message.sent_at, message.last_error, sent = now, None, sent + 1
        session.add(message)
    return sent


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
    mail.outbox_dir.mkdir(parents=True, exist_ok=True)
    (mail.outbox_dir / f"{message_id:08d}.eml").write_bytes(bytes(email))


def mail_settings(*, sender: str, smtp_host: str, smtp_port: int, outbox_dir: Path) -> MailSettings:
    return MailSettings(sender=sender, smtp_host=smtp_host, smtp_port=smtp_port, outbox_dir=outbox_dir)
