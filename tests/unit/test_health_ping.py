"""/healthz's database ping does not wait behind the app's other database work: under load the
shared worker threads are all busy recording runs, and the ping used to queue behind them (past
3 s it then said the database was down)."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from editor.api import ops
from editor.context import AkisContext
from storage.db import init_db


async def test_the_ping_answers_while_every_shared_worker_thread_is_busy(tmp_path: Path) -> None:
    database = init_db(f"sqlite:///{tmp_path / 'akis.db'}", seed_demo=False)
    context = cast(AkisContext, SimpleNamespace(database=database))
    release = threading.Event()
    loop = asyncio.get_running_loop()
    busy: list[asyncio.Future[Any]] = [loop.run_in_executor(None, release.wait, 30) for _ in range(64)]
    try:
        await asyncio.sleep(0.05)  # every worker of the shared pool is taken
        answer = await ops._database(context)
        assert answer == {"ok": True, "dialect": database.dialect}
        assert not release.is_set() and not any(f.done() for f in busy)  # answered while they still waited
    finally:
        release.set()
        await asyncio.gather(*busy)
        database.dispose()
