"""A cluster on loopback: N ``akis serve`` web processes and M ``akis worker`` processes on one
PostgreSQL schema and one Redis database, with haproxy in front, as ``deploy/compose.yaml``
lays it out (the compose file cannot run here: no Docker). Every process is started with
``subprocess`` and stopped by its pid; a test may SIGKILL any of them and start a replacement
on the same port (haproxy's server list stays as it is).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
AKIS = [sys.executable, "-c", "import app; app.main()"]  # ``akis`` from this checkout, in this interpreter


def base_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without a developer's AKIS_ settings or model keys, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k != "PYTEST_CURRENT_TEST" and not k.startswith(("AKIS_", "OTEL_"))
           and k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "AKIS_WARMUP_INTERVAL_S": "0"})
    env.update(extra)
    return env


def wait_until(condition: Callable[[], bool], what: str, limit_s: float = 60.0, step_s: float = 0.1) -> None:
    """Poll ``condition``; the limit only bounds a hung test, it asserts no timing."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {limit_s:.0f} s")
        time.sleep(step_s)


def answers(url: str, ok: tuple[int, ...] = (200,)) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code in ok
    except httpx.HTTPError:
        return False


@dataclass
class Process:
    """One started process: its command, its log and its pid."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with open(self.log_path, "ab") as log:  # the child keeps its own handle
            self.process = subprocess.Popen(self.command, cwd=self.log_path.parent, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no drain, no shutdown hook, as when a machine dies."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            assert self.process is not None
            self.process.wait(10)

    def terminate(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)

    def stop(self, timeout_s: float = 20.0) -> None:
        stop_process(self.process, timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


@dataclass
class Web(Process):
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        return answers(self.url + "/healthz/ready")

    def readiness(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/healthz/ready", timeout=5.0).json())


@dataclass
class Cluster:
    """Start with :meth:`start`; every process, haproxy included, is stopped by :meth:`stop`."""

    workdir: Path
    database_url: str
    redis_url: str
    env: dict[str, str] = field(default_factory=dict)
    web: list[Web] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    balancer: Process | None = None
    port: int = 0
    retired: list[Process] = field(default_factory=list)  # killed or replaced: logs kept for failures

    @property
    def url(self) -> str:
        """haproxy's address: what a client of the cluster uses."""
        return f"http://127.0.0.1:{self.port}"

    def process_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return base_env({"AKIS_DATABASE_URL": self.database_url, "AKIS_REDIS_URL": self.redis_url,
                         "AKIS_HOST": "127.0.0.1", "AKIS_DRAIN_DELAY_S": "0.3", **self.env, **(extra or {})})

    # -- starting --------------------------------------------------------------------------------
    def start(self, web: int = 2, workers: int = 2, worker_args: tuple[str, ...] = (),
              timeout_s: float = 90.0) -> Cluster:
        """``web`` web processes (the first alone: it adds the example flows), ``workers``
        workers, then haproxy over the web processes; returns once haproxy sees them ready."""
        ports = [free_port() for _ in range(web)]
        self.web = [self._web(n, port) for n, port in enumerate(ports, start=1)]
        self.web[0].start()
        self.wait_ready(self.web[0], timeout_s)
        for process in self.web[1:]:
            process.start()
        self.workers = [self._worker(n, worker_args).start() for n in range(1, workers + 1)]
        for process in self.web[1:]:
            self.wait_ready(process, timeout_s)
        self.balancer = self._haproxy().start()
        wait_until(lambda: answers(self.url + "/healthz/ready"), "haproxy to route to a ready instance", timeout_s)
        return self

    def _web(self, n: int, port: int) -> Web:
        return Web(f"web{n}", [*AKIS, "serve", "--host", "127.0.0.1", "--port", str(port)],
                   self.process_env({"AKIS_PORT": str(port)}), self.workdir / f"web{n}.log", port=port)

    def _worker(self, n: int, args: tuple[str, ...] = ()) -> Process:
        return Process(f"worker{n}", [*AKIS, "worker", "--poll-delay", "0.05", *args],
                       self.process_env(), self.workdir / f"worker{n}.log")

    def wait_ready(self, web: Web, timeout_s: float = 90.0) -> None:
        def up() -> bool:
            if not web.alive():
                raise RuntimeError(f"{web.name} exited:\n{web.log()[-3000:]}")
            return web.ready()

        wait_until(up, f"{web.name} to be ready", timeout_s, 0.2)

    def replace_web(self, index: int) -> Web:
        """A new web process on the same port as the one at ``index`` (killed or stopped before)."""
        old = self.web[index]
        old.kill()
        self.retired.append(old)
        new = Web(old.name, old.command, old.env, self.workdir / f"{old.name}-{len(self.retired)}.log", port=old.port)
        new.start()
        self.web[index] = new
        return new

    def add_worker(self, args: tuple[str, ...] = ()) -> Process:
        """One more ``akis worker`` (the way an operator scales out)."""
        worker = self._worker(len(self.workers) + len(self.retired) + 1, args).start()
        self.workers.append(worker)
        return worker

    def replace_worker(self, index: int, args: tuple[str, ...] = ()) -> Process:
        old = self.workers[index]
        old.kill()
        self.retired.append(old)
        new = Process(old.name, old.command, old.env, self.workdir / f"{old.name}-{len(self.retired)}.log")
        self.workers[index] = new.start()
        return new

    # -- haproxy ---------------------------------------------------------------------------------
    def _haproxy(self) -> Process:
        self.port = self.port or free_port()
        config = self.workdir / "haproxy.cfg"
        config.write_text(haproxy_config(self.port, [w.port for w in self.web]), encoding="utf-8")
        check = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration:\n{check.stdout}{check.stderr}")
        return Process("haproxy", [HAPROXY, "-db", "-f", str(config)], base_env({}), self.workdir / "haproxy.log")

    # -- stopping --------------------------------------------------------------------------------
    def stop(self) -> None:
        """Everything, by pid: web and workers politely (SIGTERM), haproxy last."""
        everyone: list[Process] = [*self.web, *self.workers]
        for process in everyone:
            process.terminate()
        for process in everyone:
            process.stop(30.0)
        if self.balancer is not None:
            self.balancer.stop()

    def logs(self) -> str:
        """The tail of every log, for a failing test's message."""
        parts = []
        for process in [*self.web, *self.workers, *self.retired, *([self.balancer] if self.balancer else [])]:
            parts.append(f"--- {process.name} ({process.log_path.name}) ---\n{process.log()[-2500:]}")
        return "\n".join(parts)


def haproxy_config(port: int, web_ports: list[int]) -> str:
    """The same balancer as deploy/haproxy.cfg, on loopback: readiness checks every 250 ms, a
    server out after two failures; API requests round-robin (any instance serves any run), the
    editor's pages sticky by a cookie (a page's live connection stays on its instance)."""
    def servers(cookie: bool) -> str:
        return "\n".join(f"    server web{n} 127.0.0.1:{p} check" + (f" cookie web{n}" if cookie else "")
                         for n, p in enumerate(web_ports, start=1))

    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout check 3s
    timeout client 120s
    timeout server 120s
    timeout tunnel 120s
    retries 2
    option redispatch
    option forwardfor

frontend akis
    bind 127.0.0.1:{port}
    use_backend api if {{ path_beg /api/ }} || {{ path_beg /healthz }} || {{ path /metrics }}
    default_backend editor

backend api
    balance roundrobin
    option httpchk GET /healthz/ready
    http-check expect status 200
    default-server inter 250ms fastinter 250ms downinter 500ms fall 2 rise 1
{servers(False)}

backend editor
    balance roundrobin
    option httpchk GET /healthz/ready
    http-check expect status 200
    default-server inter 250ms fastinter 250ms downinter 500ms fall 2 rise 1
    cookie AKIS_SERVER insert indirect nocache httponly
{servers(True)}
"""
