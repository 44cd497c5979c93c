"""Evaluations without storage or UI: dataset cases, scorers (pure functions plus the LLM judge),
JSONL/CSV files and the report (aggregates, version comparison, the CI gate). The app's
evaluations service (``editor/services/evaluations.py``) runs cases through flows and stores
what these functions compute."""
from __future__ import annotations

from .cases import Case, Outcome, answer_text
from .files import DatasetFile, DatasetFileError, dump_csv, dump_jsonl, parse_csv, parse_jsonl
from .scorers import Score, ScorerSpec, parse_scorers, score_case

__all__ = [
    "Case", "DatasetFile", "DatasetFileError", "Outcome", "Score", "ScorerSpec", "answer_text", "dump_csv",
    "dump_jsonl", "parse_csv", "parse_jsonl", "parse_scorers", "score_case",
]
