#!/usr/bin/env bash
# The main job: sets up, builds, and runs `bwscope compare` on its embedded default model (one
# synthetic Llama 3.2 1B Q8_0 instance alone, then two side by side). Arguments go to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target bwscope
exec build/release/bwscope compare "$@"
