"""The app, profiled only between two signals (bench/profile_api.py): SIGUSR1 starts a
``cProfile`` (timed by each thread's CPU clock) of the main thread and of threads started
while it runs, SIGUSR2 stops it and writes it to the file named in ``AKIS_PROFILE_OUT``.
Start-up and shutdown stay out of the profile; threads started before (a pool's) are not in it."""
from __future__ import annotations

import cProfile
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROFILES: list[cProfile.Profile] = []
_lock = threading.Lock()


def _thread_profile(*args: Any) -> None:
    """The first profiler event of a thread started while profiling: that thread's own profile."""
    profile = cProfile.Profile(time.thread_time)
    with _lock:
        PROFILES.append(profile)
    sys.setprofile(None)
    profile.enable()


def start(*_: Any) -> None:
    main = cProfile.Profile(time.thread_time)  # CPU, not wall time: an idle epoll wait costs nothing
    PROFILES.append(main)
    threading.setprofile(_thread_profile)
    main.enable()


def stop(*_: Any) -> None:
    threading.setprofile(None)  # type: ignore[arg-type]  # None removes it
    for profile in PROFILES:
        profile.disable()
    import pstats

    stats = pstats.Stats(PROFILES[0])
    for profile in PROFILES[1:]:
        stats.add(profile)
    stats.dump_stats(os.environ["AKIS_PROFILE_OUT"])


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    import runpy

    runpy.run_path(str(ROOT / "app.py"), run_name="__main__")  # as ``python app.py``
