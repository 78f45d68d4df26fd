#!/usr/bin/env bash
# Builds the fuzz preset and runs every libFuzzer target (or those named) for SECONDS each on
# its corpus, as many at once as there are CPUs. Seeds come from fuzz_make_seeds; what a run
# adds to a corpus stays in build/fuzz/corpus/<target> for the next run. A crash, leak,
# timeout or out-of-memory fails the script and leaves its input in build/fuzz/findings/.
#   scripts/fuzz.sh 600              # the long run: 10 minutes per target
#   scripts/fuzz.sh 20 gguf_fuzz     # one target, briefly
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
all=(gguf_fuzz safetensors_fuzz tokenizer_json_fuzz tokenize_fuzz hf_config_fuzz
     probe_cache_fuzz sweep_results_fuzz result_wire_fuzz)
targets=("${@:-${all[@]}}")

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

out=build/fuzz
rm -rf "$out/seeds"
"$out/fuzz_make_seeds" "$out/seeds"
mkdir -p "$out/findings" "$out/logs"

run_one() {
  local t=$1 seeds=${1%_fuzz}
  mkdir -p "$out/corpus/$t"
  # Every target reads its input whole; 1 MiB bounds what a mutation can grow to.
  if "$out/$t" "$out/corpus/$t" "$out/seeds/$seeds" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
       -artifact_prefix="$out/findings/$t-" >"$out/logs/$t.log" 2>&1; then
    echo "$t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/logs/$t.log" | grep -o '[0-9]*$') executions in ${seconds} s, no finding; corpus $(ls "$out/corpus/$t" | wc -l) inputs"
  else
    echo "$t: FAILED; see $out/logs/$t.log and $out/findings/" >&2
    return 1
  fi
}

jobs_max=$(nproc)
failed=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || failed=1; done
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit $failed
