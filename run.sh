#!/usr/bin/env bash
# The main job: set up .venv, then execute every notebook top to bottom into
# build/notebooks/ (executed .ipynb and HTML with working audio players).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup_env.sh
.venv/bin/python scripts/run_notebooks.py --out build "$@"
