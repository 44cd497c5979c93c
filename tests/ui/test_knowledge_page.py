"""/knowledge as a person uses it: create a base, upload documents (one refused with its reason),
replace one, try a search, delete a document and the base; another tenant's base is not shown."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload

from tests.unit.knowledge.pdfs import make_pdf

if TYPE_CHECKING:
    from tests.ui.conftest import EditorUI


def upload(editor: EditorUI, name: str, data: bytes, content_type: str = "") -> SmallFileUpload:
    """A file as the browser would send it to the page's upload element."""
    return SmallFileUpload(name=name, content_type=content_type, _data=data)


async def send(editor: EditorUI, *files: SmallFileUpload) -> None:
    (element,) = [e for e in editor.elements("kb-upload") if isinstance(e, ui.upload)]
    await element.handle_uploads(list(files))


async def test_create_upload_search_and_delete(editor_user: EditorUI) -> None:
    editor = editor_user
    await editor.open("/knowledge")
    await editor.user.should_see("Support documents (example)")  # seeded on first start for the demo
    editor.by("kb-id").type("help")
    editor.by("kb-name").type("Help centre")
    editor.by("kb-create").click()
    await editor.user.should_see("Help centre")
    await editor.user.should_see("0 document(s), 0 chunk(s) · revision 0")

    await send(editor, upload(editor, "returns.pdf", make_pdf([["Returns within 30 days.", "Restocking fee 10%."]]),
                              "application/pdf"),
               upload(editor, "shipping.md", b"# Shipping\n\nDelivery takes two to four working days."),
               upload(editor, "deck.pptx", b"PK\x03\x04"))
    await editor.user.should_see("file 'deck.pptx': unsupported type")
    await editor.user.should_see("2 document(s), 2 chunk(s)")
    rows = editor.one("kb-documents").rows
    assert [(r["filename"], r["kind"], r["embedded"]) for r in rows] == [
        ("returns.pdf", "pdf", "none (BM25)"), ("shipping.md", "markdown", "none (BM25)")]

    await send(editor, upload(editor, "shipping.md", b"Delivery takes one working day."))
    await editor.user.should_see("Replaced shipping.md: 1 chunk(s)")
    editor.by("kb-query").type("how long does delivery take")
    editor.by("kb-search").click()
    await editor.until(lambda: editor.has("kb-result-1"), "the search's first passage")
    first = [e.text for e in editor.one("kb-result-1").default_slot.children]
    assert first[0].startswith("[1] shipping.md · part 1 · score "), first
    await editor.user.should_see("Delivery takes one working day.")

    table = editor.one("kb-documents")
    shipping = next(r for r in table.rows if r["filename"] == "shipping.md")
    editor.by("kb-documents").trigger("remove", shipping)  # what the row's delete button emits
    await editor.until(lambda: [r["filename"] for r in editor.one("kb-documents").rows] == ["returns.pdf"],
                       "the document gone from the table")
    stored = await editor.context.knowledge.documents("1", "help")
    assert [d.filename for d in stored] == ["returns.pdf"]

    editor.by("kb-delete").click()
    (await editor.find("kb-delete-confirm")).click()
    await editor.user.should_see("Support documents (example)")
    assert [b.id for b in await editor.context.knowledge.bases("1")] == ["support-docs"]


async def test_another_tenants_base_is_not_found(editor_user: EditorUI) -> None:
    await editor_user.context.knowledge.create("9", "private", "Private")
    await editor_user.open("/knowledge")
    await editor_user.user.should_not_see("Private")
    await editor_user.open("/knowledge/private")
    await editor_user.user.should_see("knowledge base 'private' not found")


async def test_re_embed_appears_with_an_embedding_model_and_embeds_the_base(editor_user: EditorUI) -> None:
    from runtime.knowledge.embeddings import OpenAIEmbedder
    from tests.fakes.llm_server import FakeLLMServer

    editor = editor_user
    await editor.open("/knowledge/support-docs")
    await editor.user.should_see("Support documents (example)")
    assert not editor.has("kb-reindex")  # no embedding model: nothing to re-embed with
    async with FakeLLMServer() as server:
        editor.context.knowledge.knowledge.retriever.embedder = OpenAIEmbedder("emb-1", "k", server.openai_url)
        await editor.open("/knowledge/support-docs")
        editor.by("kb-reindex").click()
        await editor.user.should_see("Embedded 7 chunk(s)")
        await editor.until(lambda: {r["embedded"] for r in editor.one("kb-documents").rows} == {"emb-1"},
                           "every document embedded")
