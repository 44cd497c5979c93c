#!/usr/bin/env bash
# The one test command: installs what is missing, starts the services the tests need on
# loopback, then runs every test. Works on a fresh machine (Debian, Python >= 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

# 1. System packages: memcached, chromium, redis-server (only those missing).
missing=()
command -v memcached >/dev/null || missing+=(memcached)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || (command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1) || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  echo "== installing ${missing[*]} from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Services on loopback, started only when not already answering.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 6379 && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
if ! port_open 11211 && command -v memcached >/dev/null; then
  memcached -d -l 127.0.0.1 -p 11211 -U 0 -m 64 -u "$(id -un)" 2>/dev/null || memcached -d -l 127.0.0.1 -p 11211 -U 0 -m 64 -u nobody
fi
for _ in $(seq 1 50); do port_open 11211 && break; sleep 0.1; done

# 3. Python package with its test and bench extras, in a project-local virtualenv.
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,bench]'

# 4. The gates: lint (rules in pyproject.toml) and types (mypy over runtime, storage, editor, app.py).
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy

# 5. Every test (unit, integration against real servers, UI, browser, benchmark smoke runs).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
