"""Files the package ships: the demo catalogue, the example flows and the tenant plugin example.

They live inside the package so an installed wheel carries them; the checkout's top-level
``examples/`` and ``plugins/`` are links to these folders.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES_DIR = HERE / "examples"  # the demo flows, added to an empty database on first start
PLUGINS_DIR = HERE / "plugins"  # tenant_2's payment_gateway, the plugin example
