"""Helpers for tests that run a server as a subprocess on loopback."""
from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen | None, timeout_s: float = 10) -> None:  # type: ignore[type-arg]
    """Terminate politely, then kill: a test never leaves a server running."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout_s)


def slow_but_finished(message: str) -> bool:
    """NiceGUI's shutdown waits 2 s for cancelled tasks, then names those still running. With no
    name listed, every task did finish, just late (a loaded machine): not an app error. A task
    that really hangs is named, and fails the test."""
    _, found, names = message.partition("Could not cancel ")
    return bool(found) and "tasks within timeout:" in names and not names.split("tasks within timeout:", 1)[1].strip()
