"""Repository functions, one module per aggregate.

Every function takes the session first and the tenant id second, and every query filters
on that tenant: another tenant's row is indistinguishable from a missing one. The only
functions without a tenant argument establish it (``tokens.verify_token``,
``sessions.lookup_session``) or carry it in each row (``metrics.add_metric_rows``).
"""
from . import credentials, flows, messages, metrics, node_runs, products, runs, sessions, tenants, tokens, users

__all__ = ["credentials", "flows", "messages", "metrics", "node_runs", "products", "runs", "sessions", "tenants",
           "tokens", "users"]
