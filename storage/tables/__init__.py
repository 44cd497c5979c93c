"""Tables of the feature areas that came after the core ones in :mod:`storage.models`, one module
an area. Importing this package registers them all on ``SQLModel.metadata``."""
from __future__ import annotations

from . import durable, evaluations, experiments, inspection, knowledge, publishing

__all__ = ["durable", "evaluations", "experiments", "inspection", "knowledge", "publishing"]
