"""``/knowledge``: the tenant's knowledge bases (create one, open one); ``/knowledge/{id}``: its
documents (upload, replace by uploading the same name, delete) and a search to try what the
``knowledge_retrieval`` node would find. The pages call the knowledge service, as the API and
``akis kb`` do, so the limits and messages are the same everywhere."""
from __future__ import annotations

from nicegui import events, ui

from editor.auth import current_tenant, watch_page
from editor.context import AkisContext
from editor.services.errors import DATABASE_ERRORS, ServiceError
from editor.services.knowledge import DocumentInfo
from editor.theme import apply_theme, header
from runtime.knowledge.extract import SUPPORTED_TYPES

from .versions import ago

ACCEPT = ",".join(sorted(SUPPORTED_TYPES))


def register(context: AkisContext) -> None:
    @ui.page("/knowledge", title="Akis · Knowledge")
    async def knowledge_page() -> None:
        tenant = current_tenant()
        watch_page()
        header(apply_theme(), active="Knowledge")
        await KnowledgeHome(context, tenant).refresh()

    @ui.page("/knowledge/{base_id}", title="Akis · Knowledge base")
    async def base_page(base_id: str) -> None:
        tenant = current_tenant()
        watch_page()
        header(apply_theme(), active="Knowledge")
        await BaseView(context, tenant, base_id).refresh()


def size_text(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.1f} KB"


class KnowledgeHome(ui.column):
    def __init__(self, context: AkisContext, tenant: str) -> None:
        super().__init__()
        self.context, self.tenant = context, tenant
        self.classes("w-full gap-4 q-pa-md").style("max-width: 1100px; margin: 0 auto").props("data-testid=knowledge")
        with self:
            ui.label("Knowledge bases").classes("text-h5")
            ui.label("Documents your flows answer from: the knowledge_retrieval node searches them (BM25 offline, "
                     "with embeddings when AKIS_EMBEDDING_MODEL is set) and ai_response cites them.").classes(
                "text-grey-7")
            with ui.card().classes("w-full"), ui.row().classes("w-full items-end gap-3"):
                self.base_id = ui.input("Id", placeholder="support-docs").props("dense data-testid=kb-id")
                self.name = ui.input("Name").props("dense data-testid=kb-name").classes("grow")
                self.chunk_size = ui.number("Chunk size", value=800, min=100, max=8000, step=100).props(
                    "dense data-testid=kb-chunk-size").style("width: 110px")
                self.chunk_overlap = ui.number("Overlap", value=100, min=0, max=4000, step=10).props(
                    "dense data-testid=kb-chunk-overlap").style("width: 90px")
                ui.button("Create", icon="add", on_click=self.create).props("unelevated no-caps data-testid=kb-create")
            self.bases = ui.list().props("bordered separator").classes("w-full")

    async def refresh(self) -> None:
        try:
            bases = await self.context.knowledge.bases(self.tenant)
        except DATABASE_ERRORS as exc:
            self.bases.clear()
            with self.bases:
                ui.item(f"Knowledge bases could not be read: {exc}")
            return
        self.bases.clear()
        with self.bases:
            if not bases:
                ui.item("No knowledge base yet: create one, then upload documents.").props("data-testid=kb-empty")
            for base in bases:
                with ui.item(on_click=lambda b=base.id: ui.navigate.to(f"/knowledge/{b}")).props(
                        f"clickable data-testid=kb-{base.id}"):
                    with ui.item_section().props("avatar"):
                        ui.icon("menu_book", color="primary")
                    with ui.item_section():
                        ui.item_label(base.name or base.id).classes("text-weight-medium")
                        ui.item_label(f"{base.id} · {base.description}" if base.description else base.id).props(
                            "caption")
                    with ui.item_section().props("side"):
                        ui.item_label(f"{base.documents} document(s) · {base.chunks} chunk(s)")
                        ui.item_label(f"changed {ago(base.updated_at)}").props("caption")

    async def create(self) -> None:
        try:
            base = await self.context.knowledge.create(
                self.tenant, (self.base_id.value or "").strip(), self.name.value or "", "",
                int(self.chunk_size.value or 800), int(self.chunk_overlap.value or 0))
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative")
            return
        ui.navigate.to(f"/knowledge/{base.id}")


class BaseView(ui.column):
    def __init__(self, context: AkisContext, tenant: str, base_id: str) -> None:
        super().__init__()
        self.context, self.tenant, self.base_id = context, tenant, base_id
        self.classes("w-full gap-4 q-pa-md").style("max-width: 1100px; margin: 0 auto").props("data-testid=kb-view")

    async def refresh(self) -> None:
        service = self.context.knowledge
        try:
            base = await service.base(self.tenant, self.base_id)
            documents = await service.documents(self.tenant, self.base_id)
        except ServiceError as exc:
            self._missing(exc.detail)
            return
        except DATABASE_ERRORS as exc:
            self._missing(f"the knowledge base could not be read: {exc}")
            return
        self.clear()
        with self:
            with ui.row().classes("w-full items-center"):
                ui.link("Knowledge bases", "/knowledge").classes("text-grey-7")
                ui.label("/").classes("text-grey-7")
                ui.label(base.name or base.id).classes("text-h5").props("data-testid=kb-title")
                ui.space()
                if service.knowledge.embedder is not None:
                    ui.button("Re-embed", icon="auto_awesome", on_click=self.reindex).props(
                        "flat no-caps data-testid=kb-reindex").tooltip(
                        f"Embed every chunk again with {service.knowledge.embedder.model}")
                ui.button("Delete base", icon="delete", on_click=self.delete_base).props(
                    "flat no-caps color=negative data-testid=kb-delete")
            ui.label(f"{base.id} · chunks of {base.chunk_size} characters, {base.chunk_overlap} shared · "
                     f"{base.documents} document(s), {base.chunks} chunk(s) · revision {base.revision}").classes(
                "text-grey-7").props("data-testid=kb-stats")
            limit = size_text(service.max_file_bytes)
            ui.upload(label=f"Upload documents ({ACCEPT}; at most {limit} each; the same name replaces)",
                      multiple=True, auto_upload=True, max_file_size=service.max_file_bytes,
                      on_upload=self.uploaded,
                      on_rejected=lambda: ui.notify(f"A file is larger than {limit}: not uploaded", type="negative"),
                      ).props(f"accept={ACCEPT} flat bordered data-testid=kb-upload").classes("w-full")
            self.documents_table(documents)
            with ui.card().classes("w-full"):
                ui.label("Try a search").classes("text-subtitle1")
                with ui.row().classes("w-full items-end gap-3"):
                    self.query = ui.input("Question", placeholder="How long is the warranty?").props(
                        "dense data-testid=kb-query").classes("grow").on("keydown.enter", self.search)
                    ui.button("Search", icon="search", on_click=self.search).props(
                        "unelevated no-caps data-testid=kb-search")
                self.results = ui.column().classes("w-full gap-2").props("data-testid=kb-results")

    def _missing(self, message: str) -> None:
        self.clear()
        with self:
            ui.label(message).classes("text-negative").props("data-testid=kb-missing")
            ui.link("All knowledge bases", "/knowledge")

    def documents_table(self, documents: list[DocumentInfo]) -> None:
        columns = [{"name": "filename", "label": "Document", "field": "filename", "align": "left"},
                   {"name": "kind", "label": "Kind", "field": "kind", "align": "left"},
                   {"name": "chunks", "label": "Chunks", "field": "chunks"},
                   {"name": "size", "label": "Size", "field": "size"},
                   {"name": "embedded", "label": "Embeddings", "field": "embedded", "align": "left"},
                   {"name": "changed", "label": "Changed", "field": "changed", "align": "left"},
                   {"name": "actions", "label": "", "field": "id"}]
        rows = [{"id": d.id, "filename": d.filename, "kind": d.kind, "chunks": d.chunks,
                 "size": size_text(d.size_bytes), "embedded": d.embedding_model or "none (BM25)",
                 "changed": ago(d.updated_at)} for d in documents]
        table = ui.table(columns=columns, rows=rows, row_key="id").props(
            "flat bordered dense data-testid=kb-documents no-data-label='No document yet: upload one above.'"
        ).classes("w-full")
        table.add_slot("body-cell-actions", r'''
            <q-td :props="props" class="text-right">
              <q-btn flat dense round icon="delete" color="negative"
                     :data-testid="'kb-doc-delete-' + props.row.filename"
                     @click="() => $parent.$emit('remove', props.row)" />
            </q-td>''')
        table.on("remove", lambda e: self.delete_document(e.args["id"], e.args["filename"]))

    async def uploaded(self, e: events.UploadEventArguments) -> None:
        data = await e.file.read()
        working = ui.notification(f"Indexing {e.file.name}…", spinner=True, timeout=None)
        try:
            document = await self.context.knowledge.upload(self.tenant, self.base_id, e.file.name, data,
                                                           e.file.content_type or None)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative", multi_line=True)
            return
        finally:
            working.dismiss()
        verb = "Replaced" if document.replaced else "Added"
        ui.notify(f"{verb} {document.filename}: {document.chunks} chunk(s)", type="positive")
        await self.refresh()

    async def delete_document(self, document_id: str, filename: str) -> None:
        try:
            await self.context.knowledge.delete_document(self.tenant, self.base_id, document_id)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative")
            return
        ui.notify(f"Deleted {filename}")
        await self.refresh()

    async def reindex(self) -> None:
        working = ui.notification("Embedding every chunk again…", spinner=True, timeout=None)
        try:
            count = await self.context.knowledge.reindex(self.tenant, self.base_id)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative", multi_line=True)
            return
        finally:
            working.dismiss()
        ui.notify(f"Embedded {count} chunk(s)", type="positive")
        await self.refresh()

    async def delete_base(self) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Delete knowledge base {self.base_id!r} and all its documents?")
            with ui.row():
                ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat no-caps")
                ui.button("Delete", on_click=lambda: dialog.submit(True)).props(
                    "unelevated no-caps color=negative data-testid=kb-delete-confirm")
        if not await dialog:
            return
        try:
            await self.context.knowledge.delete(self.tenant, self.base_id)
        except ServiceError as exc:
            ui.notify(exc.detail, type="negative")
            return
        ui.navigate.to("/knowledge")

    async def search(self) -> None:
        query = (self.query.value or "").strip()
        self.results.clear()
        if not query:
            return
        try:
            passages = await self.context.knowledge.search(self.tenant, [self.base_id], query, top_k=5)
        except ServiceError as exc:
            with self.results:
                ui.label(exc.detail).classes("text-negative")
            return
        with self.results:
            if not passages:
                ui.label("No passage matches.").classes("text-grey-7").props("data-testid=kb-no-result")
            for n, p in enumerate(passages, start=1):
                with ui.card().classes("w-full").props(f"flat bordered data-testid=kb-result-{n}"):
                    ui.label(f"[{n}] {p.document} · part {p.position + 1} · score {p.score:.3f}").classes(
                        "text-caption text-grey-7")
                    ui.label(" ".join(p.text.split())).classes("text-body2")
