#!/usr/bin/env bash
# The one test command: installs what is missing, starts the services the tests need on
# loopback, then runs every test. Works on a fresh machine (Debian, Python >= 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

# 1. System packages: memcached, chromium, redis-server, haproxy (only those missing).
missing=()
command -v memcached >/dev/null || missing+=(memcached)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || (command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1) || missing+=(redis-server)
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null || missing+=(haproxy)  # the cluster tests' balancer
# Desktop mode's window under Xvfb (tests/desktop): the X server and the X libraries Qt WebEngine loads.
if command -v dpkg-query >/dev/null; then
  for pkg in xvfb libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
             libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libxkbfile1 libxcomposite1 libxdamage1 libxrandr2 libxtst6 \
             libnss3 libasound2 libegl1 libgl1 libgbm1 libfontconfig1 libdbus-1-3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  echo "== installing ${missing[*]} from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# pgvector for the knowledge bases' vector search, where the system's packages have it (Debian 13,
# PostgreSQL's own apt repository); Debian 12 has none: build it from source (docs/knowledge.md),
# or the four pgvector engine tests fail under CI=true.
if [ -d /usr/share/postgresql/15 ] && [ ! -f /usr/share/postgresql/15/extension/vector.control ] && command -v apt-get >/dev/null; then
  if apt-cache show postgresql-15-pgvector >/dev/null 2>&1 || { as_root apt-get update -qq && apt-cache show postgresql-15-pgvector >/dev/null 2>&1; }; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-pgvector >/dev/null
  else
    echo "== no postgresql-15-pgvector package here: build pgvector from source (docs/knowledge.md)"
  fi
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

# 3. Python package with its test, bench and desktop extras, in a project-local virtualenv.
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,bench,desktop]'

# 4. The gates: lint (rules in pyproject.toml) and types (mypy over runtime, storage, editor, app.py).
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy

# 5. Every test (unit, integration against real servers, UI, browser, benchmark smoke runs), on
#    AKIS_TEST_WORKERS processes (default 2; 0: in this one). Most tests wait on a server, a
#    browser or a subprocess: two workers keep both cores busy. A file's tests stay on one
#    worker (--dist loadfile): its module-scoped servers start once, its tests run in order.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 \
  -n "${AKIS_TEST_WORKERS:-2}" --dist loadfile "$@"  # the slowest: the suite must stay under 20 min
