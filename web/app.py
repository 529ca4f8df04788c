"""The one app factory: declarative routes, middleware and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from auth.demo_people import LOCAL_PROVIDER
from auth.local_provider import LocalProvider
from core.clock import Clock, utcnow
from core.db import make_engine
from core.files import private_directory
from core.sealing import install_sealer, sealer_from_settings
from core.settings import Environment, Settings, load_settings
from registry.images import ImageStoreUnavailable, image_store_from_settings
from registry.intake.decode_cache import SharedReadingCache
from registry.intake.reading import ImageLimits
from registry.outbox import mail_settings
from registry.worker import InProcessWorker
from web.body_limit import BodyLimitMiddleware
from web.decoding import Decoder
from web.errors import http_exception, server_error, storage_unavailable
from web.image_work import ImageGate
from web.load_shedding import InFlightLimitMiddleware
from web.log_privacy import install_access_log_scrubber
from web.logs import configure_logging
from web.middleware import LocaleMiddleware, LoopbackOnlyMiddleware, SecurityHeadersMiddleware
from web.observe import ObservabilityMiddleware
from web.ratelimit import build_rate_limiter
from web.routes import ALL_ROUTES, dev_oidc
from web.routes.auth import callback_url, login_providers, login_state_middleware
from web.routes.dev_oidc import local_issuer
from web.security import PrincipalMiddleware
from web.server_errors import ServerErrorPageMiddleware
from web.state import Services
from web.templating import App, build_templates, compile_all

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings, *, clock: Clock = utcnow, oauth_transport: object | None = None) -> Starlette:
    """`oauth_transport` (tests) carries the sign-in providers' HTTP, e.g. to this very app in-process."""
    private_directory(settings.data_dir)
    install_access_log_scrubber()
    configure_logging(settings.resolved_log_format)
    install_sealer(sealer_from_settings(settings))  # personal columns open and seal with these keys
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await app.state.decoder.warm_up()
        if settings.is_production:  # no citizen waits for a template's first compile (web/templating.py)
            await anyio.to_thread.run_sync(compile_all, app.state.templates)
        worker = InProcessWorker(engine, clock) if settings.worker_in_process else None
        if worker is not None:
            worker.start()
        yield
        if worker is not None:
            worker.close()
        engine.dispose()

    local_provider = (
        LocalProvider(issuer=local_issuer(settings), redirect_uri=callback_url(settings, LOCAL_PROVIDER))
        if settings.offers_local_provider else None
    )
    providers = login_providers(settings, local_provider, transport=oauth_transport)
    app = App(
        debug=False,
        routes=[*ALL_ROUTES, *dev_oidc.routes_for(settings),
                Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static")],
        middleware=[
            # Outermost: every answer (a refusal, a shed request, a 500 page) gets its request id, log line, metrics.
            Middleware(ObservabilityMiddleware),
            *([Middleware(LoopbackOnlyMiddleware)] if settings.implicit_development else []),
            Middleware(SecurityHeadersMiddleware, hsts=settings.env is Environment.PRODUCTION,
                       form_action=providers.authorization_origins),
            Middleware(LocaleMiddleware),
            # Before any session lookup or body parsing: a full worker answers 503 at once (web/load_shedding.py).
            Middleware(InFlightLimitMiddleware, max_in_flight=settings.max_in_flight),
            Middleware(ServerErrorPageMiddleware),  # inside the headers: a 500 page keeps CSP, nosniff...
            # Before the session lookup, CSRF and any form parsing: an oversized body costs nothing.
            Middleware(BodyLimitMiddleware, upload_max_bytes=settings.upload_max_bytes,
                       form_max_bytes=settings.form_max_bytes),
            Middleware(PrincipalMiddleware, secure_cookies=settings.secure_cookies),
            login_state_middleware(settings),
        ],
        exception_handlers={404: http_exception, 403: http_exception, 405: http_exception, 500: server_error,
                            ImageStoreUnavailable: storage_unavailable},
        lifespan=lifespan,
    )
    app.state = Services()
    app.state.settings = settings
    app.state.engine = engine
    app.state.templates = build_templates(production=settings.is_production)
    app.state.clock = clock
    app.state.local_provider = local_provider
    app.state.login_providers = providers
    app.state.image_store = image_store_from_settings(settings)  # local disk or S3 (REGISTRO_IMAGE_STORE)
    app.state.image_limits = ImageLimits(settings.upload_max_bytes, settings.upload_max_pixels)
    app.state.decoder = Decoder(workers=settings.decode_workers, budget_ms=settings.decode_budget_ms,
                                limits=app.state.image_limits, queue=settings.decode_queue,
                                cache=SharedReadingCache.for_keys(engine, image_key=settings.image_key,
                                                                  secret_key=settings.secret_key))
    app.state.image_gate = ImageGate(per_server=settings.image_work_per_server,
                                     per_account=settings.image_work_per_account)
    app.state.rate_limiter = build_rate_limiter(settings.rate_limit_storage, secret=settings.secret_key,
                                                overrides=settings.rate_limits)
    app.state.mail = mail_settings(sender=settings.smtp_sender, smtp_host=settings.smtp_host,
                                   smtp_port=settings.smtp_port,
                                   outbox_dir=None if settings.is_production else settings.outbox_dir)
    return app


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory web.app:app_from_environment` (production workers)."""
    return create_app(load_settings())
