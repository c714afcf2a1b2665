"""Presenter mode: the teacher signs in with the admin token and pins a run to every home page.

HTML routes (`/presenter`, its forms) for the browser, JSON routes (`/api/pin`) for scripts.
A browser is the teacher through the `lab_admin` cookie (HttpOnly, SameSite=Strict), a script
through `Authorization: Bearer <token>` (app/web/auth.py). Pinning changes what every student sees,
so on top of SameSite=Strict a request another site made (by its Origin or Sec-Fetch-Site
header) is refused: a page elsewhere cannot pin or sign in on the teacher's behalf.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import BaseModel, Field

from app.running.lab import Lab
from app.settings import Settings
from app.web import urls
from app.web.auth import (
    ADMIN_COOKIE,
    admin_cookie_value,
    is_admin,
    presented_token_matches,
)
from app.web.deps import LabDep, LobbyDep, SettingsDep, find_run
from app.web.documents import PinJson
from app.web.join import interface_addresses, qr_svg, student_urls
from app.web.lobby import Lobby
from app.web.schemas import Detail, Pin
from app.web.security import host_of, is_loopback, origin_allowed

router = APIRouter()

COOKIE_MAX_AGE = 12 * 3600  # a teaching day; the teacher signs in again the next one
MAX_TOKEN_CHARS = 1000
MAX_RUN_ID_CHARS = 64
NOT_PRESENTER = (
    "only the presenter may pin a run: sign in at /presenter, or send Authorization: Bearer <LAB_ADMIN_TOKEN>"
)


class PinRequest(BaseModel):
    run_id: str = Field(min_length=1, max_length=MAX_RUN_ID_CHARS)


# app.state holds anything: each is annotated with what app/web/server.py put there.
def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def lobby_of(request: Request) -> Lobby:
    lobby: Lobby = request.app.state.lobby
    return lobby


def cross_site(request: Request, settings: Settings) -> str | None:
    """Why this request looks like it came from another site, or None if it did not."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site is {fetch_site}"
    origin = request.headers.get("origin")
    if not origin_allowed(
        origin, request.headers.get("host"), settings.origins(), request.app.state.host_names
    ):  # as for websockets
        return f"Origin {origin} is not this server's"
    return None


async def require_same_site(request: Request, settings: SettingsDep) -> None:
    why = cross_site(request, settings)
    if why:
        raise HTTPException(403, f"cross-site request refused: {why}")


async def require_presenter(request: Request, settings: SettingsDep) -> None:
    await require_same_site(request, settings)
    if not is_admin(request, settings):
        raise HTTPException(403, NOT_PRESENTER)


SameSiteOnly = Depends(require_same_site)  # a route's `dependencies=[...]`: 403 for a request another site made
PresenterOnly = Depends(require_presenter)  # and 403 for anyone but the teacher


async def pin_run(lab: Lab, lobby: Lobby, run_id: str) -> None:
    await lobby.pin(await find_run(lab, run_id))  # a finished run too, from the database


def presenter_context(request: Request) -> dict[str, Any]:
    """What a run page needs for its pin controls."""
    return {"presenter": is_admin(request, settings_of(request)), "pinned": lobby_of(request).pinned}


# --- JSON, for scripts and the tests ---------------------------------------------------------

REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"model": Detail, "description": "not the presenter, or a request another site made"}
}


@router.get("/api/pin", response_model=Pin)
async def get_pin(lobby: LobbyDep) -> PinJson:
    return {"pinned": lobby.pinned}


@router.post(
    "/api/pin",
    dependencies=[PresenterOnly],
    response_model=Pin,
    responses={**REFUSED, 404: {"model": Detail, "description": "no run with that id"}},
)
async def post_pin(body: PinRequest, lab: LabDep, lobby: LobbyDep) -> PinJson:
    await pin_run(lab, lobby, body.run_id)
    return {"pinned": body.run_id}


@router.delete("/api/pin", dependencies=[PresenterOnly], response_model=Pin, responses=REFUSED)
async def delete_pin(lobby: LobbyDep) -> PinJson:
    await lobby.unpin()
    return {"pinned": None}


# --- HTML, for the teacher's browser ---------------------------------------------------------


def join_urls(request: Request, settings: Settings) -> list[str]:
    """The address students type, as the presenter page shows it: the public one behind a proxy; the one
    the teacher's browser reached unless that was this machine's loopback; else this machine's own."""
    if settings.public_url:
        return [settings.public_url]
    host = host_of(request.headers.get("host"))
    if host is not None and not is_loopback(host):
        return [f"{request.url.scheme}://{request.headers['host']}"]
    port = request.url.port or {"http": 80, "https": 443}.get(request.url.scheme, 80)
    return student_urls(interface_addresses(), port, [], None)


def page(request: Request, status_code: int = 200, message: str | None = None) -> HTMLResponse:
    settings = settings_of(request)
    urls = join_urls(request, settings)
    context = {
        "enabled": settings.admin_token is not None,
        "signed_in": is_admin(request, settings),
        "pinned": lobby_of(request).pinned,
        "message": message,
        "max_token_chars": MAX_TOKEN_CHARS,
        "join_urls": urls,
        "join_qr": Markup(qr_svg(urls[0])) if urls else None,  # segno's own SVG: no user input in it
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "presenter.html", context, status_code=status_code)


async def form_field(request: Request, name: str, max_chars: int) -> str:
    value = (await request.form()).get(name)
    if not isinstance(value, str) or not value:
        raise HTTPException(422, f"{name}: required")
    if len(value) > max_chars:
        raise HTTPException(422, f"{name}: at most {max_chars} characters, got {len(value)}")
    return value


@router.get("/presenter", response_class=HTMLResponse)
async def presenter_page(request: Request, settings: SettingsDep, token: str | None = None) -> Response:
    """The presenter page; with `?token=`, the link `concurrency-lab class` prints: it signs in, then drops
    the token from the address bar (a redirect), so it stays out of the browser's history and the screen."""
    if token is None:
        return page(request)
    if settings.admin_token is None:
        return page(request, 403, "Presenter mode is off on this server.")
    if len(token) > MAX_TOKEN_CHARS:
        return page(request, 422, f"token: at most {MAX_TOKEN_CHARS} characters, got {len(token)}")
    return await signed_in_or_refused(request, settings, token)


@router.post("/presenter", response_class=HTMLResponse)
async def sign_in(request: Request, settings: SettingsDep) -> Response:
    why = cross_site(request, settings)
    if why:
        return page(request, 403, f"Refused: the form was sent from another site ({why}).")
    if settings.admin_token is None:
        return page(request, 403, "Presenter mode is off on this server.")
    return await signed_in_or_refused(request, settings, await form_field(request, "token", MAX_TOKEN_CHARS))


async def signed_in_or_refused(request: Request, settings: Settings, token: str) -> Response:
    try:
        matches = await presented_token_matches(request, settings, token)
    except HTTPException as throttled:
        response = page(request, throttled.status_code, f"Refused: {throttled.detail}.")
        response.headers.update(throttled.headers or {})
        return response
    if not matches:
        return page(request, 403, "That is not the admin token. Check LAB_ADMIN_TOKEN on the server and try again.")
    signed_in = RedirectResponse("/presenter", status_code=303)
    signed_in.set_cookie(
        ADMIN_COOKIE,
        admin_cookie_value(settings) or "",
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return signed_in


@router.post("/presenter/sign-out", dependencies=[SameSiteOnly])
async def sign_out() -> Response:
    response = RedirectResponse("/presenter", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/presenter/pin", dependencies=[PresenterOnly])
async def pin_from_form(request: Request, lab: LabDep, lobby: LobbyDep) -> Response:
    run_id = await form_field(request, "run_id", MAX_RUN_ID_CHARS)
    await pin_run(lab, lobby, run_id)
    return RedirectResponse(urls.run(run_id), status_code=303)


@router.post("/presenter/unpin", dependencies=[PresenterOnly])
async def unpin_from_form(request: Request, lab: LabDep, lobby: LobbyDep) -> Response:
    await lobby.unpin()
    back = (await request.form()).get("run_id")
    if isinstance(back, str) and len(back) <= MAX_RUN_ID_CHARS and await lab.store.find(back) is not None:
        return RedirectResponse(urls.run(back), status_code=303)
    return RedirectResponse("/presenter", status_code=303)
