"""Embeddings through the official OpenAI SDK: OpenAI itself or any OpenAI-compatible server.

Batched (``batch_size`` texts a request), in order; a failure names the model and the server's
message. Anthropic's API has no embeddings endpoint, so there is no Anthropic embedder.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .port import KnowledgeError

if TYPE_CHECKING:
    from .settings import KnowledgeSettings


class OpenAIEmbedder:
    def __init__(self, model: str, api_key: str, base_url: str | None = None, batch_size: int = 64,
                 dimensions: int | None = None, timeout_s: float = 30.0) -> None:
        import openai

        self.model = model
        self.batch_size = max(1, batch_size)
        self.dimensions = dimensions
        self.requests = 0  # calls made, for tests and the benchmark
        self._client = openai.AsyncOpenAI(api_key=api_key or "unused", base_url=base_url or None,
                                          timeout=timeout_s, max_retries=2)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        import openai

        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else " " for t in texts[start:start + self.batch_size]]
            extra: dict[str, Any] = {"dimensions": self.dimensions} if self.dimensions else {}
            try:
                response = await self._client.embeddings.create(model=self.model, input=batch, **extra)
            except openai.OpenAIError as exc:
                raise KnowledgeError(f"embedding model {self.model!r}: {_reason(exc)}") from None
            self.requests += 1
            rows = sorted(response.data, key=lambda d: d.index)
            if len(rows) != len(batch):
                raise KnowledgeError(f"embedding model {self.model!r}: {len(rows)} vectors for {len(batch)} texts")
            out += [list(row.embedding) for row in rows]
        return out

    async def aclose(self) -> None:
        await self._client.close()


def _reason(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}: {message}" if status else message


def build_embedder(settings: KnowledgeSettings) -> OpenAIEmbedder | None:
    """The configured embedder, or None (BM25 only) when ``AKIS_EMBEDDING_MODEL`` is empty."""
    if not settings.embedding_model.strip():
        return None
    key = settings.embedding_api_key.get_secret_value() or settings.openai_api_key.get_secret_value()
    base = settings.embedding_base_url or settings.openai_base_url or None
    return OpenAIEmbedder(settings.embedding_model.strip(), key, base, settings.embedding_batch_size,
                          settings.embedding_dimensions)
