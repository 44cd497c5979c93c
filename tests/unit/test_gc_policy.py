"""``AKIS_GC_THRESHOLDS``: the collector's thresholds ``akis serve`` and ``akis worker`` set at
start-up (runtime/gc_policy.py), refused clearly when wrong, shown on /settings; and
``AKIS_GC_FREEZE``: what start-up made, frozen once it is over."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import uuid
import weakref
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime import gc_policy
from runtime.settings import AkisSettings
from tests.conftest import REDIS_HOST, REDIS_PORT, port_open, require

ROOT = Path(__file__).resolve().parents[2]


def settings(**values: str) -> AkisSettings:
    return AkisSettings(_env_file=None, **values)  # type: ignore[call-arg]  # pydantic-settings' own argument


def test_the_default_and_a_chosen_value() -> None:
    assert settings().gc_threshold_values == gc_policy.DEFAULT_THRESHOLDS == (10_000, 10, 10)
    assert settings(gc_thresholds=" 700, 10,10 ").gc_threshold_values == (700, 10, 10)  # Python's own


@pytest.mark.parametrize("bad", ["", "10000", "10000,10", "a,b,c", "10000,10,10,10", "-1,10,10", "50,10,10",
                                 "10000,0,10", "1e4,10,10"])
def test_anything_else_is_refused_naming_the_setting(bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(gc_thresholds=bad)
    assert "AKIS_GC_THRESHOLDS" in str(refused.value) and repr(bad) in str(refused.value)


def test_apply_sets_them(caplog: pytest.LogCaptureFixture) -> None:
    before = gc.get_threshold()
    try:
        with caplog.at_level("INFO", logger="runtime.gc_policy"):
            gc_policy.apply((12_345, 11, 12))
        assert gc.get_threshold() == (12_345, 11, 12) and gc_policy.describe() == "12345,11,12"
        assert "garbage collection thresholds 12345,11,12" in caplog.text
    finally:
        gc.set_threshold(*before)


def test_freeze_collects_once_and_freezes_what_is_left(caplog: pytest.LogCaptureFixture) -> None:
    class Garbage:
        cycle: object = None

    garbage = Garbage()
    garbage.cycle = garbage  # only a collection frees a cycle
    freed = weakref.ref(garbage)
    del garbage
    kept = Garbage()
    frozen_before = gc.get_freeze_count()  # the test session's own (tests/conftest.py)
    try:
        with caplog.at_level("INFO", logger="runtime.gc_policy"):
            frozen = gc_policy.freeze()
        assert freed() is None  # start-up's garbage is collected, not frozen
        assert frozen > frozen_before + 1 and gc.get_freeze_count() > 1000  # this process's modules, at least
        assert not any(o is kept for o in gc.get_objects())  # in the permanent generation: no collection walks it
        assert f"froze the {frozen} objects made at start-up" in caplog.text
    finally:
        gc.unfreeze()  # back into the old generation, then frozen again as the session had them
        if frozen_before:
            gc.freeze()


@pytest.mark.parametrize("freeze", ["true", "false"])
def test_a_worker_sets_them_at_start_up(tmp_path: Path, freeze: str) -> None:
    require(port_open(REDIS_HOST, REDIS_PORT), f"Redis at {REDIS_HOST}:{REDIS_PORT}")
    prefix = f"akis:test{uuid.uuid4().hex[:8]}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKIS_")}
    env.update(AKIS_GC_THRESHOLDS="12345,11,12", AKIS_GC_FREEZE=freeze,
               AKIS_REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
               AKIS_QUEUE_PREFIX=prefix, AKIS_DATABASE_URL=f"sqlite:///{tmp_path / 'akis.db'}",
               AKIS_WARMUP_INTERVAL_S="0", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", "import app; app.main()", "worker", "--burst", "--queue",
                           f"{prefix}jobs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "garbage collection thresholds 12345,11,12 (AKIS_GC_THRESHOLDS" in done.stderr + done.stdout
    assert ("garbage collection: froze the" in done.stderr + done.stdout) == (freeze == "true")


def test_the_server_stops_with_one_error_line_for_a_bad_value(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKIS_")}
    env.update(AKIS_GC_THRESHOLDS="5,1", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", "import app; app.main()", "serve", "--port", "1"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: AKIS_GC_THRESHOLDS must be three whole numbers like 10000,10,10; got '5,1'"]


def test_the_settings_page_shows_the_thresholds_in_effect(tmp_path: Path) -> None:
    from editor.pages.settings import describe
    from tests.browser.run_pane_app import make_context

    context = make_context(tmp_path)
    try:
        runs = dict(dict(describe(context, "2"))["Runs"])
    finally:
        context.database.dispose()
    shown = runs["Garbage collection thresholds (AKIS_GC_THRESHOLDS)"]
    assert shown == f"{','.join(map(str, gc.get_threshold()))} in this process (Python's own: 700,10,10)"
    frozen = runs["Garbage collection freeze (AKIS_GC_FREEZE)"]
    assert frozen == f"{gc.get_freeze_count():,} objects frozen at start-up: collections skip them"
    assert gc_policy.describe_freeze(False) == "off: every full collection walks what start-up made"
