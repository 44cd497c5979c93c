"""Vector ranking: cosine similarity by brute force over a float32 matrix (numpy).

The fallback where no vector engine is available (docs/knowledge.md has its measured cost):
one matrix-vector product per query, exact, no approximate index to tune.
"""
from __future__ import annotations

import numpy as np


def to_blob(vector: list[float]) -> bytes:
    """An embedding as stored: little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


class VectorIndex:
    def __init__(self, vectors: list[bytes], rows: list[int] | None = None) -> None:
        """``rows[i]`` is the chunk index ``vectors[i]`` stands for (default: ``i``)."""
        self._rows = rows
        if vectors:
            matrix = np.vstack([from_blob(v) for v in vectors]).astype(np.float32)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            self._matrix = matrix / norms
        else:
            self._matrix = np.zeros((0, 0), dtype=np.float32)
        self.size = len(vectors)

    @property
    def dimensions(self) -> int:
        return int(self._matrix.shape[1]) if self.size else 0

    def search(self, query: list[float], limit: int) -> list[tuple[int, float]]:
        """``(chunk index, cosine)`` of the nearest chunks, best first."""
        if not self.size:
            return []
        q = np.asarray(query, dtype=np.float32)
        if q.shape[0] != self.dimensions:
            raise ValueError(f"query embedding has {q.shape[0]} dimensions, the index {self.dimensions}")
        norm = float(np.linalg.norm(q)) or 1.0
        # einsum, not ``@``: a matrix-vector product through a threaded BLAS was 5-20x slower
        # on a loaded 2-core machine (its threads contend with the app's); this loop is not threaded
        scores = np.einsum("ij,j->i", self._matrix, q / norm)
        limit = min(limit, self.size)
        top = np.argpartition(-scores, limit - 1)[:limit]
        rows = self._rows
        found = ((int(i) if rows is None else rows[int(i)], float(scores[i])) for i in top)
        return sorted(found, key=lambda pair: (-pair[1], pair[0]))
