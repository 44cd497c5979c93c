"""The editor's pages. Each module registers its routes in ``register``."""
from __future__ import annotations

from editor.auth import pages as auth_pages
from editor.context import AkisContext

from . import dashboard, evaluations, experiments, flow_editor, home, knowledge, settings


def register(context: AkisContext) -> None:
    auth_pages.use_database(context.database)  # where pages check their session (editor.auth.pages)
    home.register(context)
    flow_editor.register(context)
    dashboard.register(context)
    experiments.register(context)  # A/B tests (issue 17)
    knowledge.register(context)  # knowledge bases (issue 19)
    evaluations.register(context)  # datasets and evaluations (issue 22), /datasets/{id} too
    settings.register(context)
