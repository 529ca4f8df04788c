"""What the citizen's multi-step pages share: the signed step state (ids only, bound to the account, never the
CIC or the code), form and upload reading, the one-time display of a new code, and the Spanish texts for the
domain's outcomes."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.clock import to_local
from core.settings import Environment
from registry.codes import CodeOutcome, IssuedCode, IssueRefusal
from registry.intake.drafts import DraftSeal
from web.fields import SIGNED_TOKEN_CHARS, token
from web.i18n import gettext as _
from web.services import now
from web.state import services

CODE_COOKIE = "registro_codigo"
CODE_COOKIE_SECONDS = 15 * 60  # long enough to copy the code, short enough not to linger on a shared phone
CARRY_SALT = "registro-codigo-continuar"


@dataclass(frozen=True)
class Flow:
    """Where the citizen is: every id here was stored by the server itself in an earlier step."""

    account_id: int
    reading_id: int | None = None
    code_id: int | None = None
    aspirant_id: int | None = None
    front_image_id: int | None = None
    live_photo_id: int | None = None
    signature_image_id: int | None = None
    signature_method: str | None = None

    def but(self, **changes: Any) -> Flow:
        return replace(self, **changes)


def _seal(request: Request) -> DraftSeal:
    return DraftSeal(services(request).settings.secret_key, "ciudadano")


def sign_flow(request: Request, flow: Flow) -> str:
    steps = {k: v for k, v in asdict(flow).items() if v is not None and k != "account_id"}
    return _seal(request).seal(flow.account_id, steps)


def read_flow(request: Request, token: str | None) -> Flow | None:
    """The step state from a query or form field, if it is genuine, recent and this account's."""
    account_id = request.state.principal.account_id
    steps = _seal(request).open(account_id, token)
    known = {f.name for f in fields(Flow)} - {"account_id"}
    if steps is None or not set(steps) <= known:
        return None
    try:
        return Flow(account_id=account_id, **steps)
    except TypeError:
        return None


def flow_token(request: Request, form: FormData | None = None) -> str | None:
    if form is not None:
        return token(form, "flujo")
    value = request.query_params.get("flujo")
    return value if value is not None and len(value) <= SIGNED_TOKEN_CHARS else None


def redirect_to(request: Request, route: str, flow: Flow | None = None) -> RedirectResponse:
    target = request.app.url_path_for(route)
    query = f"?{urlencode({'flujo': sign_flow(request, flow)})}" if flow else ""
    return RedirectResponse(f"{target}{query}", status_code=303)


def local_today(request: Request) -> date:
    moment: datetime = now(request)
    return to_local(moment).date()


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    response: Response = services(request).templates.TemplateResponse(request, template, context,
                                                                      status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # pages carry the citizen's CIC, code or folio
    return response


def _fernet(request: Request, purpose: bytes = b"registro activation code display") -> Fernet:
    secret = services(request).settings.secret_key.encode()
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)
    return Fernet(base64.urlsafe_b64encode(raw))


def _secure_cookie(request: Request) -> bool:
    return services(request).settings.env is not Environment.DEVELOPMENT or request.url.scheme == "https"


def set_sealed_cookie(request: Request, response: Response, name: str, payload: dict[str, Any], *, path: str,
                      max_age: int) -> None:
    """Step state that holds personal data (a CIC read in the field) waits here, encrypted, rather than in an
    address: a step page reached by GET then survives a reload or a language switch."""
    value = _fernet(request, f"registro sealed cookie {name}".encode()).encrypt(json.dumps(payload).encode())
    response.set_cookie(name, value.decode(), max_age=max_age, path=path, httponly=True, samesite="lax",
                        secure=_secure_cookie(request))


def sealed_cookie(request: Request, name: str, *, max_age: int) -> dict[str, Any] | None:
    token = request.cookies.get(name)
    if not token:
        return None
    try:
        plain = _fernet(request, f"registro sealed cookie {name}".encode()).decrypt(token.encode(), ttl=max_age)
        data = json.loads(plain)
    except (InvalidToken, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class NewCode:
    code: str
    expires_at: datetime
    code_id: int


def remember_new_code(request: Request, response: Response, issued: IssuedCode) -> None:
    """The plain code is never stored: it rides to the next page once, encrypted, in a short-lived cookie."""
    account = request.state.principal.account_id
    plain = f"{account}|{issued.code}|{issued.expires_at.isoformat()}|{issued.code_id}"
    value = _fernet(request).encrypt(plain.encode()).decode()
    response.set_cookie(CODE_COOKIE, value, max_age=CODE_COOKIE_SECONDS, path="/ciudadano/codigo", httponly=True,
                        samesite="lax", secure=_secure_cookie(request))


def recall_new_code(request: Request) -> NewCode | None:
    """The code this account was just given (and when it stops working), for as long as the cookie lives."""
    token = request.cookies.get(CODE_COOKIE)
    if not token:
        return None
    try:
        plain = _fernet(request).decrypt(token.encode(), ttl=CODE_COOKIE_SECONDS).decode()
        account, code, expires, code_id = plain.split("|")
        shown = NewCode(code=code, expires_at=datetime.fromisoformat(expires), code_id=int(code_id))
    except (InvalidToken, UnicodeDecodeError, ValueError):
        return None
    return shown if account == str(request.state.principal.account_id) else None


def _carry_serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services(request).settings.secret_key, salt=CARRY_SALT)


def _session_tag(request: Request) -> str | None:
    token = getattr(request.state, "session_token", None)
    return hashlib.sha256(token.encode()).hexdigest()[:32] if isinstance(token, str) and token else None


def carry_code(request: Request, code_id: int) -> str | None:
    """What the "continue" button under a new code sends instead of the code: a signed reference that only this
    account, in this same sign-in session, can use, and only while the code is still on screen. Someone who
    signs in again later (or on another phone) types the code from the e-mail."""
    tag = _session_tag(request)
    if tag is None:
        return None
    return str(_carry_serializer(request).dumps({"a": request.state.principal.account_id, "c": code_id, "s": tag}))


def carried_code(request: Request, token: str) -> int | None:
    """The code id of a genuine, recent reference made for this account and session (None otherwise)."""
    try:
        data = _carry_serializer(request).loads(token, max_age=CODE_COOKIE_SECONDS)
    except BadData:
        return None
    tag = _session_tag(request)
    if not isinstance(data, dict) or tag is None or data.get("s") != tag:
        return None
    code_id = data.get("c")
    mine = data.get("a") == request.state.principal.account_id
    return code_id if mine and isinstance(code_id, int) else None


def code_outcome_message(outcome: CodeOutcome, attempts_left: int = 0) -> str:
    if outcome is CodeOutcome.WRONG:
        return _("El código no es correcto. Intentos que te quedan: %(num)d.") % {"num": attempts_left}
    messages = {
        CodeOutcome.LOCKED: _("Escribiste un código incorrecto demasiadas veces y ese código ya no sirve. Genera un código nuevo."),  # noqa: E501
        CodeOutcome.EXPIRED: _("Tu código venció: dura 24 horas. Genera un código nuevo."),
        CodeOutcome.USED: _("Ese código ya se usó. Genera un código nuevo para dar otro apoyo."),
        CodeOutcome.REPLACED: _("Ese código ya no sirve porque pediste uno más nuevo. Usa el último código que te enviamos."),  # noqa: E501
        CodeOutcome.NONE_OPEN: _("No tienes un código vigente. Genera uno con una foto del reverso de tu credencial."),
        CodeOutcome.WINDOW_CLOSED: _("El periodo para recabar apoyo terminó, así que los códigos pendientes ya no sirven."),  # noqa: E501
    }
    return messages.get(outcome, _("Ese código no sirve. Genera un código nuevo."))


def issue_refusal_message(refusal: IssueRefusal) -> str:
    messages = {
        IssueRefusal.CREDENTIAL_TAKEN: _("Esta credencial ya está registrada con otra cuenta. Si es tuya, puedes reclamarla aquí abajo."),  # noqa: E501
        IssueRefusal.TYPED_READING: _("Para generar tu código necesitamos leer tu credencial de la foto: los datos escritos a mano ya no sirven aquí. Toma otra foto del reverso o acude con un auxiliar o a tu OPL."),  # noqa: E501
        IssueRefusal.TOO_MANY_CODES: _("Ya generaste demasiados códigos en las últimas 24 horas. Intenta de nuevo mañana."),  # noqa: E501
        IssueRefusal.INCOMPLETE_READING: _("Todavía no tenemos la lectura completa de tu credencial. Toma la foto de nuevo."),  # noqa: E501
        IssueRefusal.NO_OPEN_PROCESS: _("Ahora no hay ningún proceso recabando apoyo ciudadano."),
    }
    return messages[refusal]
