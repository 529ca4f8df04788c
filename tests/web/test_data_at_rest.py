"""What the app factory does for data at rest: a private data dir, and no mail written to disk in production."""

import stat
from pathlib import Path

from sqlmodel import Session, select
from starlette.applications import Starlette

from core.audit import OutboxMessage
from core.clock import utcnow
from core.settings import Environment, Settings
from registry.outbox import deliver_pending, queue_mail
from web.app import create_app


def test_the_app_makes_an_existing_readable_data_dir_private(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o755)
    create_app(settings).state.engine.dispose()
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700


def test_production_without_smtp_writes_no_mail_to_disk_and_keeps_it_waiting(settings: Settings,
                                                                             session: Session) -> None:
    production = settings.model_copy(update={"env": Environment.PRODUCTION, "smtp_host": ""})
    app: Starlette = create_app(production)
    queue_mail(session=session, to_address="ana@example.mx", subject="Tu código", body="Código: ABCD-2345")
    session.commit()
    assert deliver_pending(session=session, mail=app.state.mail, now=utcnow()) == 0
    session.commit()
    app.state.engine.dispose()
    outbox: Path = production.outbox_dir
    assert not outbox.exists() or list(outbox.iterdir()) == []
    stored = session.exec(select(OutboxMessage)).one()
    assert (stored.sent_at, stored.attempts) == (None, 0)  # sent as soon as an SMTP host is configured
