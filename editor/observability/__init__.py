"""Observability of the app: Prometheus metrics (``/metrics``); JSON logs are in ``runtime.logs``."""
