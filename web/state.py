"""The application's services as one typed object: what create_app builds once (settings, database engine, clock,
credential decoder, image store, mail, rate limits, templates) and every handler reaches through `services()`
instead of untyped `request.app.state` reads. It is the app's `state` itself, so a test that holds the app sees
the very same objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import State
from starlette.requests import Request

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from auth.local_provider import LocalProvider
    from auth.oauth import LoginProviders
    from core.clock import Clock
    from core.settings import Settings
    from registry.images import ImageStore
    from registry.intake.reading import ImageLimits
    from registry.outbox import MailSettings
    from web.decoding import Decoder
    from web.image_work import ImageGate
    from web.ratelimit import RateLimiter
    from web.templating import Templates


class Services(State):
    settings: Settings
    engine: Engine
    templates: Templates
    clock: Clock
    local_provider: LocalProvider | None
    login_providers: LoginProviders
    image_store: ImageStore
    image_limits: ImageLimits
    decoder: Decoder
    image_gate: ImageGate
    rate_limiter: RateLimiter
    mail: MailSettings


def services(request: Request) -> Services:
    state = request.app.state
    assert isinstance(state, Services), "the app was not made by web.app.create_app"
    return state
