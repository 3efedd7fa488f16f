#!/usr/bin/env bash
# pip install for make: pip's line per package it collects and installs, without the "already
# satisfied" ones, and a line every 15 s while pip itself is quiet (it says nothing while it
# unpacks a large wheel such as TensorFlow's), so a first install is never a silent wait.
#   scripts/pip-install.sh PYTHON PIP-ARGS...
set -euo pipefail
python=$1
shift
(
  while sleep 15; do echo "    ... still installing (${SECONDS} s)"; done
) &
heartbeat=$!
trap 'pkill -P "$heartbeat" 2>/dev/null; kill "$heartbeat" 2>/dev/null || true' EXIT
PYTHONUNBUFFERED=1 "$python" -m pip install --disable-pip-version-check "$@" 2>&1 \
  | { grep -v --line-buffered '^Requirement already satisfied' || true; }
