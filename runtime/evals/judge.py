"""The LLM judge: a rubric prompt through the configured provider, answered with a score.

The judge is asked to end its answer with ``SCORE: <0 to 1>`` (``SCORE: 7/10``, a bare number
above 1 as out of 10 or 100, and ``PASS``/``FAIL`` are read too; the last one counts). An
answer without a score fails the case and says so: a judge that rambles never counts as a pass.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from ..errors import AkisError
from ..ports import LLMRequest, ProviderResolver, Usage
from .cases import Case, Outcome
from .scorers import Judge, Score

SYSTEM = ("You grade a chatbot's answer against a rubric. Think briefly, then end with one line "
          "'SCORE: <a number from 0 to 1>' (1: fully meets the rubric).")
SCORE = re.compile(r"score\s*[:=]\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?", re.IGNORECASE)
VERDICT = re.compile(r"\b(PASS|FAIL)\b")
TIMEOUT_S = 120.0


def judge_prompt(spec: Judge, case: Case, answer: str) -> str:
    lines = [f"Rubric:\n{spec.rubric}", f"\nUser message:\n{case.message}"]
    if case.expected:
        lines.append(f"\nReference answer:\n{case.expected}")
    lines.append(f"\nAnswer to grade:\n{answer}")
    return "\n".join(lines)


def read_score(reply: str) -> float | None:
    """The judge's score from 0 to 1, or None when its reply holds none."""
    matches = SCORE.findall(reply)
    if matches:
        number, scale = matches[-1]
        value = float(number) / float(scale) if scale and float(scale) > 0 else float(number)
        if value > 1 and not scale:
            value /= 10 if value <= 10 else 100  # "SCORE: 8" on a 0-10 scale, "SCORE: 85" on 0-100
        return min(1.0, max(0.0, value))
    verdicts = VERDICT.findall(reply)
    if verdicts:
        return 1.0 if verdicts[-1] == "PASS" else 0.0
    return None


class LLMJudge:
    """A :data:`runtime.evals.scorers.JudgeCall` for one tenant, through its provider resolver."""

    def __init__(self, providers: ProviderResolver, tenant_id: str, timeout_s: float = TIMEOUT_S) -> None:
        self.providers = providers
        self.tenant_id = tenant_id
        self.timeout_s = timeout_s
        self.tokens = 0  # what the judging cost, prompt and answer

    async def __call__(self, spec: Judge, case: Case, outcome: Outcome, answer: str) -> Score:
        try:
            provider = self.providers.resolve(spec.provider, spec.credential, self.tenant_id)
            request = LLMRequest(model=spec.model, system=SYSTEM, temperature=0.0, max_tokens=400,
                                 messages=[{"role": "user", "content": judge_prompt(spec, case, answer)}],
                                 options=dict(spec.options))
            reply = await asyncio.wait_for(self._collect(provider.stream(request)), self.timeout_s)
        except TimeoutError:
            return Score(0.0, False, f"the judge did not answer within {self.timeout_s:g} s")
        except AkisError as exc:
            return Score(0.0, False, f"the judge failed: {exc}")
        value = read_score(reply)
        if value is None:
            return Score(0.0, False, f"the judge's reply had no score: {reply.strip()[:200]!r}")
        passed = value >= spec.threshold
        verdict = f"judged {value:.2f}" + ("" if passed else f" < {spec.threshold:.2f}")
        return Score(value, passed, f"{verdict}: {reply.strip()[:300]}")  # the judge's reasons, pass or fail

    async def _collect(self, stream: AsyncIterator[str | Usage]) -> str:
        parts: list[str] = []
        async for piece in stream:
            if isinstance(piece, Usage):
                self.tokens += piece.input_tokens + piece.output_tokens
            else:
                parts.append(piece)
        return "".join(parts)
