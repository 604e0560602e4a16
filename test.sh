#!/usr/bin/env bash
# The full test suite: set up .venv, lint, then pytest (helpers, doctests, notebooks).
# TEST_WORKERS=0 runs it without worker processes (default: 2, this machine's cores).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup_env.sh
.venv/bin/ruff check .
# One process per core (pytest-xdist); tests/conftest.py keeps each file's tests, and each
# notebook's, in one process so their expensive fixtures are built once.
.venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadgroup "$@"
