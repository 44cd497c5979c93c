"""Keep streamed text whole: never hand a consumer half a character.

The SDKs decode UTF-8 per SSE event, so bytes split across network reads already come out
whole. What can still arrive split is a UTF-16 surrogate pair escaped in JSON (``"\\ud83d"``
in one delta, ``"\\ude00"`` in the next): joined naively that is two lone surrogates, which
cannot be encoded and would not equal the stored text. This holds a trailing high surrogate
back until its partner arrives.
"""
from __future__ import annotations


def _is_high(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


class WholeText:
    """Feed deltas in, get text out that never ends in a dangling high surrogate."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        self._held = ""
        if text and _is_high(text[-1]):
            self._held, text = text[-1], text[:-1]
        if any("\ud800" <= c <= "\udfff" for c in text):
            text = _join_pairs(text)
        return text

    def flush(self) -> str:
        """What is left at the end: a lone surrogate becomes U+FFFD so the text stays encodable."""
        held, self._held = self._held, ""
        return "\ufffd" if held else ""


def _join_pairs(text: str) -> str:
    """Combine surrogate pairs into code points; replace any lone one with U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
