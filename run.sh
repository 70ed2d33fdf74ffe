#!/usr/bin/env bash
# The two commands of the README:
#   ./run.sh app    set up (idempotent) and serve the app on http://localhost:8501 with the embedded defaults
#   ./run.sh test   set up the same way and run the whole test suite (slow and browser tests included)
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
case "${1:-app}" in
  app)
    shift || true
    exec .venv/bin/python -m streamlit run app.py --server.port "${PORT:-8501}" "$@" ;;
  test)
    shift || true
    .venv/bin/python -m ruff check .
    exec .venv/bin/python -m pytest "$@" ;;
  *) echo "usage: ./run.sh app|test" >&2; exit 2 ;;
esac
