"""The mails that tell a person their account's ways in changed, in their language. They name the provider and
the time, never the provider's identifier, and link to the accounts page (a public address, nothing personal)."""

from __future__ import annotations

from datetime import datetime

from web.i18n import gettext as _
from web.templating import local_time


def link_mail(provider_label: str, when: datetime, *, accounts_link: str) -> tuple[str, str]:
    subject = _("Se vinculó una cuenta de %(provider)s a tu cuenta de Registro Ciudadano") % {
        "provider": _(provider_label)}
    body = _("El %(moment)s (hora del centro de México) se vinculó una cuenta de %(provider)s a tu cuenta de "
             "Registro Ciudadano: desde ahora también puedes entrar con ella.\n\nSi no fuiste tú, entra y "
             "desvincúlala en «Formas de entrar»:\n%(link)s") % {
        "moment": local_time(when), "provider": _(provider_label), "link": accounts_link}
    return subject, body


def unlink_mail(provider_label: str, when: datetime, *, accounts_link: str) -> tuple[str, str]:
    subject = _("Se desvinculó una cuenta de %(provider)s de tu cuenta de Registro Ciudadano") % {
        "provider": _(provider_label)}
    body = _("El %(moment)s (hora del centro de México) se desvinculó la cuenta de %(provider)s de tu cuenta de "
             "Registro Ciudadano: ya no puedes entrar con ella, y cerramos las demás sesiones que se abrieron con ella."
             "\n\n"
             "Si no fuiste tú, revisa tus formas de entrar y avisa a quien administra tu proceso:\n%(link)s") % {
        "moment": local_time(when), "provider": _(provider_label), "link": accounts_link}
    return subject, body
