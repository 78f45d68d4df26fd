#!/usr/bin/env bash
# The main job: sets up, builds, and runs bwscope on its embedded default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target bwscope
exec build/release/bwscope generate "$@"
