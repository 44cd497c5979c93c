"""The flow editor's Publish dialog: put the flow's chat widget on a website.

It makes a publishable key (this flow only, the sites listed, a rate per visitor) and shows the
snippet to paste, with the key in it, once; it lists the flow's keys and revokes them. Keys are
the signed-in user's tenant's (the session's), through the publishing service, as the API does.
"""
from __future__ import annotations

from typing import Any, Protocol

from nicegui import ui

from editor.auth import current_identity
from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, NotFound, ServiceError
from editor.services.publishing import DEFAULT_RATE, MAX_RATE, MIN_RATE, CreatedKey, KeyInfo, embed_snippet

from .versions import ago


class PublishingSession(Protocol):
    """What the dialog needs of the editor's session."""

    context: AkisContext
    tenant: str
    flow_id: str


def server_url() -> str:
    """The address this page was opened at: the widget's script and API are served there."""
    try:
        return str(ui.context.client.request.base_url)
    except (AttributeError, RuntimeError):
        return "/"


def try_link(flow_id: str, key: str) -> str:
    """The example page with this key (in the fragment: never sent to a server) and flow."""
    return f"/widget/widget.html?flow={flow_id}#key={key}"


class PublishDialog:
    def __init__(self, session: PublishingSession) -> None:
        self.session = session
        self.service = session.context.publishing
        principal = current_identity().principal
        self.created_by = principal.name if principal is not None else ""
        with ui.dialog().props("data-testid=publish-dialog") as self.dialog, ui.card().classes("gap-3").style(
                "width: 680px; max-width: 95vw"):
            with ui.row().classes("w-full items-center no-wrap"):
                ui.icon("public").classes("text-2xl text-primary")
                ui.label("Publish: chat widget").classes("text-lg font-semibold")
                ui.space()
                ui.button(icon="close", on_click=self.dialog.close).props("flat round dense")
            ui.label("Put this flow's chat on a website. Its publishable key runs this flow only, from the sites "
                     "you list, a limited number of messages a minute for each visitor. Revoke it any time; the "
                     "chat on those sites then says it is not available.").classes("text-sm akis-muted")
            self.created = ui.column().classes("w-full gap-2").props("data-testid=publish-created")
            self._form()
            ui.separator()
            ui.label("Keys of this flow").classes("text-sm font-semibold")
            self.keys = ui.column().classes("w-full gap-1").props("data-testid=publish-keys")

    def _form(self) -> None:
        with ui.column().classes("w-full gap-2"):
            self.name = ui.input("Name (what it is for, shown as the chat's title)").props(
                "outlined dense data-testid=publish-name maxlength=100").classes("w-full")
            self.origins = ui.textarea("Allowed sites, one a line",
                                       placeholder="https://shop.example.com\nhttps://www.shop.example.com").props(
                "outlined dense autogrow data-testid=publish-origins").classes("w-full akis-mono")
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                self.rate = ui.number("Messages a minute per visitor", value=DEFAULT_RATE, min=MIN_RATE, max=MAX_RATE,
                                      precision=0).props("outlined dense data-testid=publish-rate").classes("w-64")
                ui.space()
                ui.button("Create key and snippet", icon="key", on_click=self.create).props(
                    "unelevated no-caps data-testid=publish-create")
            self.error = ui.label().classes("text-sm text-red-600").props("data-testid=publish-error")

    async def open(self) -> None:
        self.dialog.open()
        await self.refresh()

    async def refresh(self) -> None:
        self.keys.clear()
        try:
            keys = await self.service.list(self.session.tenant, self.session.flow_id)
        except ServiceError as exc:
            self._unreadable(exc.detail)
            return
        except DATABASE_ERRORS as exc:
            self._unreadable(f"the database did not answer ({type(exc).__name__})")
            return
        with self.keys:
            if not keys:
                ui.label("No key yet: this flow is not on any site.").classes("text-sm akis-muted")
            for info in reversed(keys):
                self._key_row(info)

    def _unreadable(self, why: str) -> None:
        with self.keys:
            ui.label(f"The keys cannot be read: {why}").classes("text-sm text-red-600")

    def _key_row(self, info: KeyInfo) -> None:
        with ui.row().classes("w-full items-center no-wrap gap-2 py-1").props(f"data-testid=publish-key-{info.id}"):
            ui.icon("key" if info.live else "key_off").classes("text-lg " + ("text-primary" if info.live else
                                                                             "akis-muted"))
            with ui.column().classes("gap-0 grow min-w-0"):
                title = info.name or f"key {info.id}"
                ui.label(f"{title} · {info.id}").classes("text-sm font-medium ellipsis")
                sites = ", ".join(info.allowed_origins) or "this app's own pages only"
                used = f"used {ago(info.last_used_at)}" if info.last_used_at else "not used yet"
                ui.label(f"{sites} · {info.rate_per_minute}/min · made {ago(info.created_at)} · {used}").classes(
                    "text-xs akis-muted ellipsis")
            if info.live:
                ui.button("Revoke", on_click=lambda key=info: self.revoke(key)).props(
                    f"flat dense no-caps color=negative data-testid=publish-revoke-{info.id}")
            else:
                ui.badge(f"revoked {ago(info.revoked_at)}").props("outline color=grey")

    async def create(self) -> None:
        self.error.text = ""
        try:
            created = await self.service.create(
                self.session.tenant, self.session.flow_id, name=self.name.value or "",
                allowed_origins=self.origins.value or "", rate_per_minute=int(self.rate.value or DEFAULT_RATE),
                created_by=self.created_by)
        except NotFound:
            self.error.text = "Save the flow first: the widget runs its saved version."
            return
        except ServiceError as exc:
            self.error.text = exc.detail
            return
        except DATABASE_ERRORS as exc:
            self.error.text = f"The key was not made: the database did not answer ({type(exc).__name__})."
            return
        self._show_created(created)
        await self.refresh()

    def _show_created(self, created: CreatedKey) -> None:
        snippet = embed_snippet(server_url(), created.key, self.session.flow_id, created.info.name)
        self.created.clear()
        with self.created:
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                ui.icon("check_circle").classes("text-green-700")
                ui.label("Paste this before </body> on your site. Copy it now: the key is shown only once.").classes(
                    "text-sm")
            ui.code(snippet, language="html").classes("w-full text-xs").props("data-testid=publish-snippet")
            with ui.row().classes("gap-3 items-center"):
                ui.link("Try it on the example page", try_link(self.session.flow_id, created.key),
                        new_tab=True).classes("text-sm").props("data-testid=publish-try")
                ui.label("The widget runs the flow's saved version.").classes("text-xs akis-muted")

    async def revoke(self, info: KeyInfo) -> None:
        with ui.dialog() as confirm, ui.card():
            ui.label(f"Revoke {info.name or 'key ' + info.id}?").classes("text-base font-semibold")
            ui.label("Sites using it stop answering at once; this cannot be undone.").classes("text-sm")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=lambda: confirm.submit(False)).props("flat no-caps")
                ui.button("Revoke", on_click=lambda: confirm.submit(True)).props(
                    "unelevated no-caps color=negative data-testid=publish-revoke-confirm")
        if not await confirm:
            return
        try:
            await self.service.revoke(self.session.tenant, info.id)
        except ServiceError as exc:
            ui.notify(exc.detail, type="warning")
        except DATABASE_ERRORS as exc:
            ui.notify(f"Not revoked: the database did not answer ({type(exc).__name__})", type="negative")
        else:
            ui.notify(f"Revoked {info.name or 'key ' + info.id}", type="positive")
        await self.refresh()


async def open_publish(session: Any) -> PublishDialog:
    """The Publish dialog for the editor session's flow."""
    dialog = PublishDialog(session)
    await dialog.open()
    return dialog
