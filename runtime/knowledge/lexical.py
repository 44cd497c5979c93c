"""Lexical ranking: BM25 with ``bm25s`` (sparse matrices, the same ranking on every database),
over the words of ``tokens.py``."""
from __future__ import annotations

import bm25s  # type: ignore[import-untyped]  # ships no type information
import numpy as np

from .tokens import tokenize


class LexicalIndex:
    """BM25 over one knowledge base's chunks (built once per revision of the base)."""

    def __init__(self, texts: list[str]) -> None:
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(t) or ["\x00"] for t in texts]  # an empty chunk stays in place, matches nothing
        if corpus:
            self._bm25.index(corpus, show_progress=False)

    def search(self, query: str, limit: int) -> list[tuple[int, float]]:
        """``(chunk index, score)`` of the best matches with a positive score, best first."""
        tokens = [t for t in tokenize(query) if t in self._vocabulary()]
        if not tokens or not self.size:
            return []
        scores = self._bm25.get_scores(tokens)
        limit = min(limit, self.size)
        top = np.argpartition(-scores, limit - 1)[:limit]
        ranked = sorted(((int(i), float(scores[i])) for i in top), key=lambda pair: (-pair[1], pair[0]))
        return [(i, s) for i, s in ranked if s > 0]

    def _vocabulary(self) -> dict[str, int]:
        return self._bm25.vocab_dict if self.size else {}
