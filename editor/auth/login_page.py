"""The sign-in and sign-out pages' HTML, in the editor's look (its colours from ``editor.theme``,
its dark mode when the system asks for it). Plain HTML forms: the cookies they lead to are
HttpOnly, which a cookie set from a NiceGUI event handler could not be.

The tenant is not asked for: a user name and password find their user. Only when they fit
users in two tenants (one person with one password in both) does the form ask which tenant.
"""
from __future__ import annotations

import html

from editor.theme import PRIMARY

_STYLE = """
 :root {{ --page: #f8fafc; --panel: #ffffff; --border: #e2e8f0; --muted: #64748b; --text: #0f172a;
          --primary: {primary}; }}
 @media (prefers-color-scheme: dark) {{
   :root {{ --page: #020617; --panel: #0f172a; --border: #334155; --muted: #94a3b8; --text: #e2e8f0; }} }}
 * {{ box-sizing: border-box; }}
 body {{ font-family: Roboto, system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--page);
        color: var(--text); display: flex; justify-content: center; align-items: center; min-height: 100vh;
        margin: 0; }}
 .card {{ background: var(--panel); border: 1px solid var(--border); border-radius: 12px; padding: 28px 28px 24px;
         width: 360px; max-width: calc(100vw - 32px); box-shadow: 0 8px 28px rgba(15, 23, 42, .08); }}
 .brand {{ display: flex; align-items: center; gap: 10px; margin-bottom: 4px; }}
 .logo {{ width: 32px; height: 32px; border-radius: 8px; background: var(--primary); color: #fff;
         display: flex; align-items: center; justify-content: center; font-weight: 700; font-size: 18px; }}
 .brand span {{ font-weight: 700; font-size: 20px; letter-spacing: -0.01em; }}
 .lead {{ color: var(--muted); font-size: 14px; margin: 0 0 18px; }}
 label {{ display: block; margin-top: 14px; font-size: 13px; color: var(--muted); }}
 input {{ width: 100%; padding: 9px 11px; margin-top: 5px; font-size: 15px; color: var(--text);
         background: var(--panel); border: 1px solid var(--border); border-radius: 8px; outline: none; }}
 input:focus {{ border-color: var(--primary); box-shadow: 0 0 0 3px color-mix(in srgb, var(--primary) 20%,
               transparent); }}
 button {{ margin-top: 20px; width: 100%; padding: 10px; background: var(--primary); color: #fff; border: 0;
          border-radius: 8px; font-size: 15px; font-weight: 500; cursor: pointer; }}
 button:hover {{ filter: brightness(1.08); }}
 details {{ margin-top: 12px; font-size: 13px; color: var(--muted); }}
 summary {{ cursor: pointer; }}
 .error {{ color: #dc2626; background: color-mix(in srgb, #dc2626 8%, transparent); border-radius: 8px;
          padding: 8px 10px; margin: 14px 0 0; font-size: 14px; }}
"""

_LOGIN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Akis · Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style></head>
<body><form class="card" method="post" action="/login" data-testid="login-form">
 <div class="brand"><div class="logo">A</div><span>Akis</span></div>
 <p class="lead">Sign in to edit and run your flows.</p>
 <input type="hidden" name="next" value="{next}">
 <input type="hidden" name="csrf" value="{csrf}">
 <label>User name <input name="username" value="{username}" required maxlength="100" autofocus
   autocomplete="username"></label>
 <label>Password <input name="password" type="password" required maxlength="1000"
   autocomplete="current-password"></label>
 {tenant}
 {error}
 <button type="submit">Sign in</button>
</form></body></html>"""

_TENANT_ASKED = ('<label>Tenant <input name="tenant" value="{value}" required maxlength="64" '
                 'data-testid="login-tenant"></label>')
_TENANT_OPTIONAL = ('<details{open}><summary>Sign in to a particular tenant</summary>'
                    '<label>Tenant <input name="tenant" value="{value}" maxlength="64" data-testid="login-tenant">'
                    '</label></details>')

_LOGOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Akis · Sign out</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style></head>
<body><form class="card" method="post" action="/logout">
 <div class="brand"><div class="logo">A</div><span>Akis</span></div>
 <p class="lead">Signed in as {user}.</p>
 <button type="submit">Sign out</button>
</form></body></html>"""


def style() -> str:
    return _STYLE.format(primary=PRIMARY)


def login_html(next_path: str, tenant: str, username: str, error: str, csrf: str, ask_tenant: bool = False) -> str:
    """The sign-in form; ``next_path`` must already be a safe local path."""
    value = html.escape(tenant)
    if ask_tenant:
        tenant_field = _TENANT_ASKED.format(value=value)
    else:
        tenant_field = _TENANT_OPTIONAL.format(value=value, open=" open" if tenant else "")
    block = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return _LOGIN.format(style=style(), next=html.escape(next_path), tenant=tenant_field,
                         username=html.escape(username), error=block, csrf=html.escape(csrf))


def logout_html(user: str) -> str:
    return _LOGOUT.format(style=style(), user=html.escape(user))
