#!/usr/bin/env bash
# The full test suite: set up .venv, lint, then pytest (helpers, doctests, notebooks).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup_env.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
