"""Durable runs (queue mode, ``AKIS_RUN_MODE``): the Redis run queue (``queue``), the run rows'
lease and the node checkpoints (``rows``), and what ``akis worker`` runs them with (``executor``)."""
