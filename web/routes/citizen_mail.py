"""The citizen's e-mails, in the citizen's language: the activation code (with the way back to the support step)
and the receipt of a support. Their links are public addresses of pages (settings.base_url): never the code, a
folio, a CIC or anything else personal in them."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request

from registry.citizen import ReceiptFacts
from web.i18n import gettext as _
from web.state import services
from web.templating import local_time


def public_link(request: Request, route: str) -> str:
    return services(request).settings.base_url.rstrip("/") + str(request.app.url_path_for(route))


def code_mail(code: str, expires_at: datetime, *, support_link: str) -> tuple[str, str]:
    subject = _("Tu código de activación de Registro Ciudadano")
    body = _("Tu código de activación es: %(code)s\n\nSirve una sola vez, hasta el %(until)s (hora del centro de "
             "México). Escríbelo en «Dar mi apoyo» con la misma cuenta con la que lo pediste:\n%(link)s\n\nSi tú "
             "no lo pediste, ignora este mensaje.") % {"code": code, "until": local_time(expires_at),
                                                        "link": support_link}
    return subject, body


def receipt_mail(facts: ReceiptFacts, *, supports_link: str) -> tuple[str, str]:
    subject = _("Recibimos tu apoyo ciudadano (folio %(folio)s)") % {"folio": facts.folio}
    body = _("Recibimos tu apoyo a %(aspirant)s para %(office)s (%(process)s).\n\nFolio: %(folio)s\nFecha y hora: "
             "%(moment)s (hora del centro de México)\n\nSigue su verificación en la Lista Nominal en «Mis "
             "apoyos»:\n%(link)s") % {"aspirant": facts.aspirant_name, "office": facts.office,
                                       "process": facts.process_name, "folio": facts.folio,
                                       "moment": local_time(facts.received_at), "link": supports_link}
    if not facts.counts_for_aspirant:
        body += "\n\n" + _("Ya habías apoyado a otra persona para este cargo: solo cuenta el primer apoyo.")
    # Why: an account or a code used by someone else shows up here first, so the citizen is told what to do.
    body += "\n\n" + _("Si tú no diste este apoyo, acude a tu OPL para aclararlo.")
    return subject, body
