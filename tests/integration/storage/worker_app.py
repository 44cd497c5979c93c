"""The executor the SIGKILL test's worker processes run (``--executor``).

It is the engine's real save_message executor, plus a test hook: a job whose config has
``_hold`` ("before" or "after" the save) blocks on its *first* try only, so the test can kill
the worker at that moment. Every try is logged to a file, one line per try.
"""
from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

from storage.jobs.defaults import engine_executor


def append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write(line + "\n")


def factory(services):
    real = engine_executor(services)
    markers = Path(os.environ["AKIS_TEST_MARKERS"])

    async def execute(job):
        config = dict(job.config)
        hold = config.pop("_hold", None)
        key = f"{job.run_id}.{job.node_id}"
        first = not (markers / f"{key}.tried").exists()
        (markers / f"{key}.tried").touch()
        await asyncio.to_thread(append_line, markers / "tries.log", f"{key} {os.getpid()}")
        if hold == "before" and first:
            (markers / f"{key}.holding").touch()
            await asyncio.sleep(3600)
        await real(replace(job, config=config))
        if hold == "after" and first:
            (markers / f"{key}.holding").touch()
            await asyncio.sleep(3600)

    return execute
