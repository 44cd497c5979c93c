#!/usr/bin/env bash
# Rebuild the canvas bundle (editor/canvas/dist/index.js + index.css) from the locked npm
# packages. Users never run this: dist/ is committed so installing Akis needs no Node.js.
# Reproducible: `npm ci` installs exactly package-lock.json, esbuild is pinned, and the output
# carries no timestamps, so two runs give byte-identical files.
set -euo pipefail
cd "$(dirname "$0")/../editor/canvas/js"
command -v npm >/dev/null || { echo "build_canvas: npm (Node.js 18+) is needed to rebuild the canvas bundle" >&2; exit 1; }
npm ci --no-audit --no-fund --ignore-scripts
rm -rf ../dist
npm run --silent build
echo "build_canvas: wrote $(cd ../dist && ls | tr '\n' ' ')"
sha256sum ../dist/*
