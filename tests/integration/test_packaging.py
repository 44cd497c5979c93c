"""The package as a user installs it: a wheel (not editable), started from an empty folder.

The wheel is built offline from a copy of the sources and installed into a fresh virtualenv
whose dependencies come from the test environment (a ``.pth`` line, so the checkout's
editable install is not picked up). Every command runs from an empty folder, so nothing can
be read from the checkout by accident.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import port_open, require
from tests.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "app.py", "runtime", "editor", "storage")
BIN = "Scripts" if os.name == "nt" else "bin"


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without Akis settings, API keys or pytest's marks (NiceGUI
    switches to its test mode under pytest): a user's fresh shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKIS_", "PYTEST_", "NICEGUI_"))
           and not k.endswith("_API_KEY") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


def run(args: list[str | Path], cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=False, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=clean_env(**env))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh virtualenv with the wheel of this checkout installed."""
    require(importlib.util.find_spec("setuptools.command.bdist_wheel") is not None,
            "setuptools >= 70.1 (the test extra) to build a wheel offline")
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                 "-w", tmp / "dist", source], cwd=tmp, timeout=120)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp / "dist").glob("akis-*.whl"))

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / BIN / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp).stdout.strip()
    # Dependencies from this environment: a plain path line (its .pth files, among them the
    # checkout's editable finder, are not run).
    Path(purelib, "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    done = run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
               cwd=tmp, timeout=120)
    assert done.returncode == 0, done.stderr
    return venv / BIN


@pytest.fixture
def empty_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_the_installed_package_is_used_not_the_checkout(installed: Path, empty_folder: Path) -> None:
    code = ("import json, app, editor, runtime, storage, runtime.data as d; "
            "print(json.dumps([m.__file__ for m in (app, editor, runtime, storage)] + [str(d.EXAMPLES_DIR)]))")
    done = run([installed / "python", "-c", code], cwd=empty_folder)
    assert done.returncode == 0, done.stderr
    venv = installed.parent.resolve()
    for path in json.loads(done.stdout):
        assert Path(path).resolve().is_relative_to(venv), path


def test_the_shipped_tenant_plugin_is_listed(installed: Path, empty_folder: Path) -> None:
    done = run([installed / "akis", "nodes", "--tenant", "2"], cwd=empty_folder)
    assert done.returncode == 0, done.stderr
    assert any(line.startswith("payment_gateway") and "[tenant 2]" in line for line in done.stdout.splitlines())
    other = run([installed / "akis", "nodes", "--tenant", "1"], cwd=empty_folder)
    assert "payment_gateway" not in other.stdout


def test_serve_from_an_empty_folder_starts_with_the_five_demo_flows(installed: Path, empty_folder: Path) -> None:
    expected = {json.loads(p.read_text(encoding="utf-8"))["flow_id"]
                for p in (ROOT / "runtime" / "data" / "examples").glob("*.json")}
    assert len(expected) == 5  # seed, sequential, pallet, agent and support assistants
    port = free_port()
    log = empty_folder.parent / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(installed / "akis"), "serve", "--port", str(port)], cwd=empty_folder,
                                  stdout=out, stderr=subprocess.STDOUT, env=clean_env())
        try:
            deadline = time.monotonic() + 45
            while not port_open("127.0.0.1", port, 0.2):
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            listed = run([installed / "akis", "flows", "list"], cwd=empty_folder)
        finally:
            stop_process(server)
    text = log.read_text()
    assert "Traceback" not in text and "not added" not in text, text
    assert listed.returncode == 0, listed.stderr
    ids = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert ids == expected, listed.stdout


def test_serve_with_the_database_down_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://user:secret@127.0.0.1:{port}/x"
    done = run([sys.executable, "-c", "import app; app.main()", "serve", "--port", str(free_port())],
               cwd=tmp_path, AKIS_DATABASE_URL=url)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: cannot open the database postgresql+psycopg://user:***@127.0.0.1:{port}/x")
    assert "secret" not in lines[0]
