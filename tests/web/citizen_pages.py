"""What the citizen journey tests of tests/web share: the pages parsed into HTML trees (assertions are on their
structure), the steps of the journey as a signed-in citizen takes them, and the mail outbox folder."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.db import session_scope
from registry.codes import issue_code
from registry.models import CredentialReading
from registry.states import ReadingSource
from tests.factories.photos import BackPhoto, plain_photo, signature_png

Page = Any  # a TestClient response


def tree(page: Page) -> BeautifulSoup:
    return BeautifulSoup(page.text, "html.parser")


def one(page: Page, selector: str) -> Tag:
    found = tree(page).select_one(selector)
    assert found is not None, f"{selector} not in {page.url}:\n{page.text}"
    return found


def hidden(page: Page, name: str) -> str:
    return str(one(page, f'input[type="hidden"][name="{name}"]')["value"])


def step(page: Page) -> str:
    """Which step of the journey the page says it is (its progress line)."""
    return str(one(page, "#paso")["data-step"])


def step_numbers(page: Page) -> tuple[int, int]:
    match = re.search(r"(\d+)\D+(\d+)", one(page, "#paso").get_text())
    assert match, page.text
    return int(match.group(1)), int(match.group(2))


def switch_language(client: TestClient, page: Page) -> Page:
    """Follow the header's language link, as a browser would (relative to the page's own address)."""
    return client.get(urljoin(str(page.url), str(one(page, "header nav.lang-switch a")["href"])))


def jpeg(name: str, data: bytes) -> tuple[str, bytes, str]:
    return (name, data, "image/jpeg")


@dataclass
class Journey:
    """A signed-in citizen's client going through the steps, each returning the page it lands on."""

    client: TestClient

    def back_photo(self, photo: BackPhoto) -> Page:
        return self.client.post("/ciudadano/codigo", files={"reverso": jpeg("reverso.jpg", photo.data)})

    def confirm_credential(self, confirm: Page) -> Page:
        return self.client.post("/ciudadano/codigo/confirmar", data={"flujo": hidden(confirm, "flujo")})

    def continue_with_shown_code(self, ready: Page) -> Page:
        return self.client.post("/ciudadano/apoyo/continuar", data={"codigo_ref": hidden(ready, "codigo_ref")})

    def type_code(self, code: str) -> Page:
        return self.client.post("/ciudadano/apoyo", data={"codigo": code})

    def choose(self, aspirant_page: Page, aspirant_id: int) -> Page:
        return self.client.post("/ciudadano/apoyo/aspirante", data={"flujo": hidden(aspirant_page, "flujo"),
                                                                    "aspirante": aspirant_id})

    def photos(self, photos_page: Page, *, live: bool = True) -> Page:
        files = {"frente": jpeg("frente.jpg", plain_photo(140))}
        if live:
            files["foto_viva"] = jpeg("selfie.jpg", plain_photo(170))
        return self.client.post("/ciudadano/apoyo/fotos", data={"flujo": hidden(photos_page, "flujo")}, files=files)

    def sign(self, signature_page: Page) -> Page:
        return self.client.post("/ciudadano/apoyo/firma", data={"flujo": hidden(signature_page, "flujo")},
                                files={"firma": ("firma.png", signature_png(), "image/png")})

    def give(self, confirm_page: Page, **answers: str) -> Page:
        data = {"flujo": hidden(confirm_page, "flujo"),
                "clave_idempotencia": hidden(confirm_page, "clave_idempotencia"), **answers}
        return self.client.post("/ciudadano/apoyo/confirmar", data=data)


def quick_code(app: Starlette, account_id: int, cic: str = "760901471", qr_serial: int = 1) -> str:
    """A code made by the service itself, for tests that start at the support steps (no photo to decode)."""
    with session_scope(app.state.engine) as db:
        reading = CredentialReading(source=ReadingSource.PIPELINE, cic=cic,
                                    qr_text=f"http://qr.ine.mx/{qr_serial:024d}/20200101/P/000001")
        db.add(reading)
        db.flush()
        assert reading.id is not None
        result = issue_code(session=db, account_id=account_id, reading_id=reading.id,
                            secret_key=app.state.settings.secret_key, now=app.state.clock())
    assert result.issued is not None, result.refusal
    return result.issued.code


def outbox(app: Starlette) -> list[EmailMessage]:
    """The mails delivered to the outbox folder, oldest first."""
    folder = app.state.settings.outbox_dir
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [email.message_from_bytes(path.read_bytes(), policy=default_policy) for path in files]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())
