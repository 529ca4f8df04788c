"""`registro report send-daily [--date YYYY-MM-DD]`: the morning report e-mails (registry.reports.daily), each
process in its own transaction, then the outbox delivered. Run it every morning from cron or a systemd timer (see
the README); a second run the same day sends nothing."""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy.engine import Engine
from starlette.routing import Router

from core.clock import utcnow
from core.db import make_engine, session_scope
from core.settings import Settings
from registry.outbox import deliver_pending, mail_settings
from registry.reports.daily import DailyLinks, due_processes, send_daily

DELIVERY_ROUNDS = 100  # the outbox hands out 50 messages a call; a run stops when a call sends none


def daily_links(settings: Settings) -> DailyLinks:
    """The report pages' absolute addresses, from their routes (so a moved page moves its link too)."""
    from web.routes import reports  # the web routes, loaded only for this command

    router = Router(routes=reports.routes)
    origin = settings.public_origin

    def staff(process_id: int) -> str:
        return origin + str(router.url_path_for("opl_reports", process_id=process_id))

    return DailyLinks(staff=staff, aspirant=origin + str(router.url_path_for("aspirant_progress")))


@click.command("send-daily")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day to report (default: yesterday in each process's time zone).")
@click.pass_obj
def send_daily_command(settings: Settings, day: datetime | None) -> None:
    """E-mail the daily report of every open process to its OPL's staff and to each aspirant (once a day)."""
    engine = make_engine(settings.resolved_database_url)
    try:
        queued = _queue_reports(engine, settings, day)
        delivered = _deliver(engine, settings)
    finally:
        engine.dispose()
    click.echo(f"{queued} e-mails queued, {delivered} delivered")


def _queue_reports(engine: Engine, settings: Settings, day: datetime | None) -> int:
    links, now = daily_links(settings), utcnow()
    with session_scope(engine, read_only=True) as session:
        due = due_processes(session=session, now=now, day=day.date() if day else None)
    if not due:
        click.echo("no process to report: none was open on that day, or the day is not over yet")
    queued = 0
    for process_id, report_day in due:
        with session_scope(engine) as session:
            sent = send_daily(session=session, process_id=process_id, day=report_day, links=links, now=now)
        state = "already sent" if sent.already_sent else f"{sent.messages} e-mails"
        click.echo(f"process {process_id}, {report_day.isoformat()}: {state}")
        queued += sent.messages
    return queued


def _deliver(engine: Engine, settings: Settings) -> int:
    mail = mail_settings(sender=settings.smtp_sender, smtp_host=settings.smtp_host, smtp_port=settings.smtp_port,
                         outbox_dir=None if settings.is_production else settings.outbox_dir)
    delivered = 0
    for _ in range(DELIVERY_ROUNDS):
        with session_scope(engine) as session:
            sent = deliver_pending(session=session, mail=mail, now=utcnow())
        delivered += sent
        if not sent:
            break
    return delivered
