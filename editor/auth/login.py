"""``/login`` and ``/logout``: plain HTML forms, so the cookies can be HttpOnly (a cookie set
from a NiceGUI event handler could not be).

Sign-in is refused before any password is looked at when the form comes from another site:
its Origin (else Referer, else Sec-Fetch-Site) must be this app's, and its ``csrf`` field must
be the token bound to the ``akis_login`` pre-session cookie this page set (SameSite=Strict,
HttpOnly, only sent to ``/login``), so another site cannot sign a browser in to an account of
its choosing (login CSRF). Then the throttle (``throttle.py``) may ask the attempt to wait.
The tenant is not asked for: the user name and password find their user (the form asks for
the tenant only when they fit users of two tenants; the page is ``login_page.py``).
A right password creates a session record and its cookie, and marks the browser as known to
that account (``akis_device``). Logout revokes the record.
"""
from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from editor.api.deps import ContextDep
from editor.api.limits import same_origin_request
from storage.errors import StorageError
from storage.repos.sessions import ActiveSession
from storage.repos.users import authenticate_by_name

from .login_page import login_html, logout_html
from .sessions import SESSION_COOKIE, SessionSigner, allowed_origins, cookie_options, derive_key, signer, store
from .throttle import Attempt, LoginThrottle, digest, retry_after

FORM_COOKIE = "akis_login"  # the pre-session cookie the sign-in form's token is bound to
FORM_MAX_AGE_S = 2 * 3600
DEVICE_COOKIE = "akis_device"  # "this browser signed in to these accounts before"
DEVICE_MAX_AGE_S = 180 * 24 * 3600
DEVICE_ACCOUNTS = 10

def _safe_next(target: str | None) -> str:
    """Only a local path: never redirect to another site after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_path: str = "/", tenant: str = "", username: str = "", error: str = "",
               csrf: str = "", ask_tenant: bool = False) -> str:
    return login_html(_safe_next(next_path), tenant, username, error, csrf, ask_tenant)


class FormCookies:
    """The signed values of the pre-session and known-browser cookies."""

    def __init__(self, current: SessionSigner) -> None:
        self.signer = current
        self._form = URLSafeTimedSerializer(derive_key(current.secret, b"akis-login-form"), salt="akis.login")
        self._device = URLSafeTimedSerializer(derive_key(current.secret, b"akis-known-browser"), salt="akis.device")

    def form_nonce(self, value: str | None) -> str | None:
        if not value or len(value) > 500:
            return None
        try:
            nonce = self._form.loads(value, max_age=FORM_MAX_AGE_S)
        except (BadSignature, ValueError, TypeError):
            return None
        return nonce if isinstance(nonce, str) and nonce else None

    def new_form(self) -> tuple[str, str]:
        nonce = secrets.token_urlsafe(24)
        return nonce, self._form.dumps(nonce)

    def device(self, value: str | None) -> tuple[str, list[str]] | None:
        """The known browser's id and the accounts (digests) it signed in to."""
        if not value or len(value) > 2000:
            return None
        try:
            data: Any = self._device.loads(value, max_age=DEVICE_MAX_AGE_S)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("d"), str) or not isinstance(data.get("a"), list):
            return None
        return data["d"], [a for a in data["a"] if isinstance(a, str)]

    def device_value(self, device_id: str, accounts: list[str]) -> str:
        return self._device.dumps({"d": device_id, "a": accounts[-DEVICE_ACCOUNTS:]})


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


router = APIRouter(include_in_schema=False)


def login_throttle(context: ContextDep) -> LoginThrottle:
    return context.login_throttle


ThrottleDep = Annotated[LoginThrottle, Depends(login_throttle)]


def cookies() -> FormCookies:
    current = signer()
    if current is None:
        raise RuntimeError("sessions are not configured (editor.auth.sessions.configure)")
    return FormCookies(current)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def form_response(request: Request, status: int, next_path: str = "/", tenant: str = "", username: str = "",
                  error: str = "", headers: dict[str, str] | None = None, ask_tenant: bool = False) -> HTMLResponse:
    """The sign-in form with a token bound to this browser's pre-session cookie (kept when
    it is still good, so two open tabs both work)."""
    forms = cookies()
    nonce = forms.form_nonce(request.cookies.get(FORM_COOKIE))
    value = None
    if nonce is None:
        nonce, value = forms.new_form()
    page = login_page(next_path, tenant, username, error, csrf=forms.signer.token("login", nonce),
                      ask_tenant=ask_tenant)
    response = HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})
    if value is not None:
        response.set_cookie(FORM_COOKIE, value, max_age=FORM_MAX_AGE_S, path="/login", httponly=True,
                            samesite="strict", secure=secure(request))
    return response


@router.get("/login", response_class=HTMLResponse)
async def show_login(request: Request, next: str = "/") -> HTMLResponse:
    return form_response(request, 200, next)


@router.post("/login")
async def do_login(
    request: Request,
    context: ContextDep,
    limiter: ThrottleDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    tenant: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    forms = cookies()
    tenant, username = tenant.strip(), username.strip()
    if not same_origin_request(request.headers, allowed_origins()):
        return form_response(request, 403, next, tenant, username,
                             "This sign-in form was sent from another site. Sign in here instead.")
    nonce = forms.form_nonce(request.cookies.get(FORM_COOKIE))
    if nonce is None or not forms.signer.check_token("login", nonce, csrf):
        return form_response(request, 403, next, tenant, username,
                             "The sign-in form expired or did not come from this page: please sign in again.")
    account = digest(tenant, username)
    known = forms.device(request.cookies.get(DEVICE_COOKIE))
    device = known[0] if known is not None and account in known[1] else None
    attempt = Attempt(tenant, username, client_address(request), device)
    wait = await limiter.wait_s(attempt)
    if wait > 0:
        return form_response(request, 429, next, tenant, username,
                             f"Too many failed sign-ins: try again in {retry_after(wait)} s.",
                             headers={"Retry-After": retry_after(wait)})
    try:
        matched = await context.database.run(authenticate_by_name, username, password, tenant)
    except StorageError:
        matched = []
    if not matched:
        await limiter.failed(attempt)
        wrong = "Wrong tenant, user name or password." if tenant else "Wrong user name or password."
        return form_response(request, 401, next, tenant, username, wrong, ask_tenant=bool(tenant))
    await limiter.succeeded(attempt)
    if len(matched) > 1:  # one name and password in several tenants: which one is meant
        return form_response(request, 409, next, "", username, "This user name is in more than one tenant: "
                             "enter the tenant to sign in to.", ask_tenant=True)
    user = matched[0]
    sessions = store()
    if sessions is None:
        raise RuntimeError("sessions are not configured (editor.auth.sessions.configure)")
    previous = forms.signer.read(request.cookies.get(SESSION_COOKIE))
    if previous is not None:  # this browser's earlier session ends: one browser, one session
        found = await sessions.lookup(previous)
        if found is not None:
            await sessions.revoke(found.tenant_id, found.username, found.id)
    ref = await sessions.create(user.tenant_id, user.username, address=client_address(request),
                                user_agent=request.headers.get("user-agent", ""))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, forms.signer.sign(ref), **cookie_options(secure(request)))
    device_id, accounts = known if known is not None else (secrets.token_urlsafe(16), [])
    accounts = [a for a in accounts if a != account] + [account]
    response.set_cookie(DEVICE_COOKIE, forms.device_value(device_id, accounts), max_age=DEVICE_MAX_AGE_S,
                        path="/login", httponly=True, samesite="strict", secure=secure(request))
    response.delete_cookie(FORM_COOKIE, path="/login", httponly=True, samesite="strict", secure=secure(request))
    return response


async def signed_in(request: Request) -> ActiveSession | None:
    current, sessions = signer(), store()
    ref = current.read(request.cookies.get(SESSION_COOKIE)) if current else None
    if ref is None or sessions is None:
        return None
    return await sessions.lookup(ref)


@router.get("/logout", response_class=HTMLResponse)
async def confirm_logout(request: Request) -> Response:
    """Nothing changes on a GET (a link on another site must not sign anyone out): a button."""
    found = await signed_in(request)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse(logout_html(f"{found.username} (tenant {found.tenant_id})"),
                        headers={"Cache-Control": "no-store"})


@router.post("/logout")
async def do_logout(request: Request) -> Response:
    if not same_origin_request(request.headers, allowed_origins()):
        return HTMLResponse("Refused: a page of another site may not sign you out.", status_code=403)
    found = await signed_in(request)
    sessions = store()
    if found is not None and sessions is not None:
        await sessions.revoke(found.tenant_id, found.username, found.id)
    response = RedirectResponse("/login", status_code=303)
    options = cookie_options(secure(request))
    options.pop("max_age")
    response.delete_cookie(SESSION_COOKIE, **options)
    return response
