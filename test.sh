#!/usr/bin/env bash
# The full test suite: set up .venv, lint, then pytest (helpers, doctests, notebooks).
# TEST_WORKERS=0 runs it without worker processes (default: 2, this machine's cores).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup_env.sh
.venv/bin/ruff check .
# One process per core (pytest-xdist); each file's tests stay in one process, so its
# module fixtures (a CLI run, each notebook's one execution) are built once. Files go to
# the workers in collection order, which puts the slowest first (tests/conftest.py).
.venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
