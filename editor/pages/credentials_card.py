"""Settings' provider credentials card: per tenant, a key (write-only) and a base URL for each
provider, Save, Remove and Test connection (``editor/services/credentials.py``)."""
from __future__ import annotations

from nicegui import ui

from editor.context import AkisContext
from editor.services.credentials import PROVIDERS, CredentialStatus
from editor.services.errors import DATABASE_ERRORS, ServiceError

TITLES = {"anthropic": "Anthropic", "openai": "OpenAI", "openai_compatible": "OpenAI-compatible server"}


def credentials_card(context: AkisContext, tenant: str) -> None:
    service = context.credentials
    with ui.card().classes("w-full q-pa-md gap-2").props("data-testid=credentials-card"):
        ui.label("Provider credentials").classes("text-subtitle1 text-weight-medium")
        ui.label(f"For tenant {tenant}; used before the server's environment variables. Keys are stored "
                 "encrypted and never shown again: leave the key empty to keep the stored one.") \
            .classes("text-body2 text-grey-7")
        try:
            rows = {s.provider: s for s in service.list(tenant)}
        except DATABASE_ERRORS as exc:  # said on the page, never a traceback
            ui.label(f"Could not read the stored credentials: {exc}").classes("text-negative")
            return
        for provider in PROVIDERS:
            _row(context, tenant, provider, rows.get(provider, CredentialStatus(provider, False, "")))


def _row(context: AkisContext, tenant: str, provider: str, status: CredentialStatus) -> None:
    service = context.credentials
    with ui.column().classes("w-full gap-1 q-py-xs"):
        with ui.row().classes("w-full items-center no-wrap gap-2"):
            ui.label(TITLES[provider]).classes("text-body1 text-weight-medium")
            state = ui.label().classes("text-caption text-grey-7").props(f"data-testid=credential-state-{provider}")
        with ui.row().classes("w-full items-start no-wrap gap-2"):
            key = ui.input("API key", password=True, password_toggle_button=False).props(
                f"outlined dense autocomplete=off data-testid=credential-key-{provider}").classes("col")
            url = ui.input("Base URL (optional)" if provider != "openai_compatible" else "Base URL",
                           value=status.base_url).props(
                f"outlined dense data-testid=credential-url-{provider}").classes("col")
        result = ui.label().classes("text-body2").props(f"data-testid=credential-result-{provider}")

        def show(current: CredentialStatus) -> None:
            key._props["label"] = "API key (stored, hidden: type to replace)" if current.key_stored else "API key"
            key.update()
            state.set_text("key stored" if current.key_stored else
                           ("base URL stored" if current.base_url else "nothing stored: the environment is used"))

        def save() -> None:
            try:
                saved = service.save(tenant, provider, key.value or None, url.value or "")
            except ServiceError as exc:
                result.classes(replace="text-body2 text-negative").set_text(exc.detail)
                return
            except DATABASE_ERRORS as exc:
                result.classes(replace="text-body2 text-negative").set_text(f"Not saved: {exc}")
                return
            key.set_value("")  # write-only: the key is not kept on the page
            show(saved)
            result.classes(replace="text-body2 text-positive").set_text("Saved")

        def remove() -> None:
            try:
                service.remove(tenant, provider)
            except DATABASE_ERRORS as exc:
                result.classes(replace="text-body2 text-negative").set_text(f"Not removed: {exc}")
                return
            key.set_value("")
            url.set_value("")
            show(CredentialStatus(provider, False, ""))
            result.classes(replace="text-body2 text-grey-7").set_text("Removed: runs use the environment")

        async def test() -> None:
            result.classes(replace="text-body2 text-grey-7").set_text("Testing…")
            outcome = await service.test(tenant, provider)
            result.classes(replace="text-body2 " + ("text-positive" if outcome.ok else "text-negative"))
            result.set_text(("Connected: " if outcome.ok else "Failed: ") + outcome.message)

        with ui.row().classes("gap-2"):
            ui.button("Save", on_click=save).props(f"unelevated dense no-caps data-testid=credential-save-{provider}")
            ui.button("Test connection", on_click=test).props(
                f"outline dense no-caps data-testid=credential-test-{provider}")
            ui.button("Remove", on_click=remove).props(f"flat dense no-caps data-testid=credential-remove-{provider}")
        show(status)
