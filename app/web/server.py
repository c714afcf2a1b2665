"""Build the FastAPI app: settings, experiment catalogue, templates, the lab, and the routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import ROOT
from app.drawing.environment import environment
from app.drawing.render import Renderer
from app.model import lesson_files
from app.model.experiments import catalogue
from app.model.own_experiments import add_own, report
from app.model.tasks import cancel_for_good
from app.running import engines, pythons
from app.running.lab import Lab
from app.running.ratelimit import MemoryGuesses
from app.settings import HTMX_VERSION, HTMX_WS_VERSION, Settings, get_settings
from app.storage import redis_connection
from app.web import api, errors, lesson_follow, lesson_routes, live, pages, presenter, step_routes, sweep_routes, urls
from app.web.auth import AdminTokenMiddleware
from app.web.clients import ClientCookieMiddleware
from app.web.lesson_feed import LessonFeed
from app.web.lobby import Lobby
from app.web.security import (
    BodyLimitMiddleware,
    HostGuardMiddleware,
    SecurityHeadersMiddleware,
    WebsocketGuardMiddleware,
    content_security_policy,
    host_names,
)
from app.web.zoom import Zoom
from experiments import MODULES

log = logging.getLogger(__name__)
STATIC = ROOT / "static"
HTMX = {
    "cdn_htmx": f"https://cdn.jsdelivr.net/npm/htmx.org@{HTMX_VERSION}/dist/htmx.min.js",
    "sri_htmx": "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg",
    "cdn_ws": f"https://cdn.jsdelivr.net/npm/htmx-ext-ws@{HTMX_WS_VERSION}/dist/ws.min.js",
    "sri_ws": "sha384-1RwI/nvUSrMRuNj7hX1+27J8XDdCoSLf0EjEyF69nacuWyiJYoQ/j39RT1mSnd2G",
    # the copies static/htmx-fallback.js loads too
    "local_htmx": f"/static/vendor/htmx-{HTMX_VERSION}.min.js",
    "local_ws": f"/static/vendor/htmx-ext-ws-{HTMX_WS_VERSION}.min.js",
}


async def client_key(settings: Settings, engine: engines.Engine) -> bytes:
    """The key client cookies are signed with: LAB_SECRET, else the one the lab keeps (app/storage/lab_secret.py)."""
    if settings.secret is not None:
        return settings.secret.get_secret_value().encode()
    return await engine.secret()


def create_app(settings: Settings | None = None, modules: tuple[str, ...] = MODULES) -> FastAPI:
    settings = settings or get_settings()
    env = environment(urls.GLOBALS)  # the templates' links: app/web/urls.py
    env.globals["htmx"] = {**HTMX, "source": settings.htmx_source}
    renderer = Renderer(env)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        interpreters = await asyncio.to_thread(pythons.offered, settings.python, settings.pythons)
        lab_params = (pythons.param(interpreters),)
        # The teacher's own after the built-in ones; a file that breaks the contract is left out, saying why.
        experiments, problems = add_own(
            catalogue(modules, pythons.lab_params(interpreters)), settings.experiments_dir, lab_params
        )
        report(settings.experiments_dir, experiments, problems)
        app.state.experiment_problems = problems  # the teacher's home page lists them (app/web/pages.py)
        redis = redis_connection.client(settings) if settings.redis_url else None
        engine = (
            engines.distributed(settings, experiments, redis)
            if redis
            else engines.embedded(settings, experiments, interpreters)
        )
        lab = app.state.lab = Lab(settings, experiments, renderer, interpreters, engine)
        await lab.open()
        app.state.client_key = await client_key(settings, engine)
        app.state.admin_guesses = engine.guesses
        app.state.zoom = Zoom(lab.store)
        app.state.lobby = Lobby(lab, env, pin=lab.engine.pin)
        lessons, refused = await asyncio.to_thread(
            lesson_files.load, lesson_files.places(settings.lessons_dir), experiments
        )
        for problem in refused:  # the server serves the good ones; the teacher sees these on /lessons too
            log.error("lesson file refused: %s", problem)
        app.state.lessons, app.state.lesson_problems = {lesson.id: lesson for lesson in lessons}, refused
        app.state.lesson_feed = LessonFeed(lab, lab.engine.lessons, app.state.lessons)
        await app.state.lesson_feed.refresh()  # a lesson live before a restart is followed again at once
        tasks = [asyncio.create_task(app.state.lobby.run()), asyncio.create_task(app.state.lesson_feed.run())]
        yield
        await cancel_for_good(tasks, "the lobby's and the lesson feed's loops")  # they read Redis: app/model/tasks.py
        await lab.shutdown()
        await lab.store.close()  # after the runs ended: their last events and status are written
        if redis is not None:
            await redis.aclose()

    app = FastAPI(title="Concurrency Lab", lifespan=lifespan)
    app.state.settings = settings
    app.state.experiment_problems = []
    errors.install(app)  # every error message encodable, whatever the request held
    app.state.admin_guesses = (
        MemoryGuesses()
    )  # wrong admin tokens per address (app/web/auth.py); the engine's once open
    app.state.templates = Jinja2Templates(env=env)
    app.add_middleware(AdminTokenMiddleware)
    app.add_middleware(ClientCookieMiddleware)
    names = app.state.host_names = host_names(settings.allowed_hosts, settings.origins(), settings.host)
    app.add_middleware(
        WebsocketGuardMiddleware,
        allowed_origins=settings.origins(),
        names=names,
        max_message_bytes=settings.max_ws_message_bytes,
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    cdn = (HTMX["cdn_htmx"], HTMX["cdn_ws"]) if settings.htmx_source == "cdn" else ()
    app.add_middleware(SecurityHeadersMiddleware, csp=content_security_policy(cdn))
    # A finished big run's page is some 100-400 KB of SVG markup that compresses ten-fold
    # (benchmarks/pageweight.py); websockets are not affected.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    # A request for a host that is not ours (DNS rebinding) reaches nothing else.
    app.add_middleware(HostGuardMiddleware, names=names)
    # Outermost, before anything asks who the client is: the address a trusted proxy forwarded, no other
    # (app/web/clients.py).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(sweep_routes.router)
    app.include_router(step_routes.router)
    app.include_router(live.router)
    app.include_router(presenter.router)
    app.include_router(lesson_routes.router)
    app.include_router(lesson_follow.router)
    return app
