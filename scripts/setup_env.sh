#!/usr/bin/env bash
# Make .venv hold everything the project needs: the pinned requirements for running
# and developing it (requirements-dev.txt includes requirements.txt) and nmf_helpers
# itself (editable). Quick when nothing changed; run.sh and
# test.sh call it first, so a fresh machine needs only Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Python 3.11 or newer is needed as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the requirements or the package metadata changed.
stamp=.venv/.installed-from
wanted=$(cat requirements.txt requirements-dev.txt pyproject.toml)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "setup: installing requirements-dev.txt and nmf_helpers into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  printf '%s' "$wanted" > "$stamp"
fi
