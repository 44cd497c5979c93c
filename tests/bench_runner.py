"""Running a benchmark the way a person does, for the smoke tests: ``python bench/NAME.py --tiny``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_bench(name: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None,
              cwd: Path = ROOT) -> dict[str, Any]:
    """Run ``bench/<name>.py --tiny ARGS``; it must exit 0 and print a table, then one JSON line,
    which is returned. Only the numbers' shape is for tests to check, never their size."""
    full_env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--tiny", *args], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} --tiny exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert len(lines) > 1, f"{name}: no table before the JSON line:\n{proc.stdout}"
    data = json.loads(lines[-1])
    assert isinstance(data, dict), f"{name}: the last line is not a JSON object"
    return data
