#!/usr/bin/env bash
# The meter's acceptance on this machine, every timing under the shared bench lock:
#  1. `bwscope probe` read against peers/readbw, interleaved (readbw, probe, readbw, probe, ...),
#     3 pairs: the probe's median read (readbw's definition) and best read beside readbw's median.
#  2. decode runs of `bwscope bench` (and one llama.cpp decode on the same file) judged against
#     the probe: MBU must stay at or below 100 %; bwscope's ledger decode bandwidth must equal
#     bytes per token × tokens/s within 1 %.
# Usage: bench/meter_acceptance.sh [BUILD_DIR] [MODEL] [THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/release}
bw=$build/bwscope
model=${2:-}
threads=${3:-$(nproc)}
peers=${BWSCOPE_PEERS:-$here/../shared/peers}
lock=/tmp/bwscope-bench.lock
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== probe read vs readbw ($threads threads), interleaved"
pairs=${BWSCOPE_PAIRS:-3}
for i in $(seq "$pairs"); do
  rb=$(flock "$lock" "$peers/readbw" "$threads")
  echo "$rb" > "$out/readbw$i"
  flock "$lock" "$bw" probe --reprobe --threads "$threads" --json > "$out/probe$i.json"
  python3 - "$out/probe$i.json" "$rb" "$i" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); rb = float(sys.argv[2])
med, best = p["read"]["median_gbs"], p["read"]["best_gbs"]
print(f"pair {sys.argv[3]}: readbw {rb:.2f} GB/s | probe read median {med:.2f} ({100*(med/rb-1):+.1f} %), "
      f"best {best:.2f} ({100*(best/rb-1):+.1f} %), pattern '{p['read']['pattern']}'; "
      f"write {p['write']['best_gbs']:.2f}, write-nt {p['write_nt']['best_gbs']:.2f}, copy {p['copy']['best_gbs']:.2f}, "
      f"triad {p['triad']['best_gbs']:.2f}; compute peak {p['compute_peak_gflops']:.1f} GFLOP/s")
PY
done
# Per pair the probe's median read over readbw's; the median of those ratios is the verdict
# (a host that switches bandwidth regime inside one pair spoils that pair only).
python3 - "$out" "$pairs" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
r = sorted(json.load(open(f"{d}/probe{i}.json"))["read"]["median_gbs"] / float(open(f"{d}/readbw{i}").read()) for i in range(1, n + 1))
m = r[len(r) // 2] if len(r) % 2 else (r[len(r) // 2 - 1] + r[len(r) // 2]) / 2
print(f"probe/readbw per pair: {', '.join(f'{x:.3f}' for x in r)}; median {m:.3f} -> {'within' if abs(m - 1) <= 0.10 else 'NOT within'} 10 %")
PY

echo "== decode runs against the probe (cached by the last --reprobe above)"
for i in 1 2 3; do
  flock "$lock" "$bw" bench ${model:+"$model"} -p 16 -n 32 -r 3 -t "$threads" --json > "$out/bench$i.json"
  python3 - "$out/bench$i.json" "$i" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); d = j["decode"]; led = d["ledger"]; p = j["probe"]
tps = len(d["samples"]) / sum(1 / s for s in d["samples"])  # tokens over total time
expect = d["bytes_per_token"] * tps / 1e9
print(f"run {sys.argv[2]}: decode {d['tokens_per_s']:.2f} tok/s, ledger avg {led['avg_gbs']:.2f} GB/s "
      f"(peak {led['peak_gbs']:.2f}, p50 {led['p50_gbs']:.2f}, p95 {led['p95_gbs']:.2f} @ {led['window_ms']} ms); "
      f"bytes/token x tok/s = {expect:.2f} GB/s (diff {100*(led['avg_gbs']/expect-1):+.3f} %), "
      f"bytes/token ledger/shapes = {led['bytes_per_token']/d['bytes_per_token']:.6f}; "
      f"avg_bandwidth_gbs (median tok/s) {d['avg_bandwidth_gbs']:.2f}")
print(f"        probe best read {p['read']['best_gbs']:.2f}, brackets {p['bracket_before_gbs']:.2f} -> {p['bracket_after_gbs']:.2f}, "
      f"attainable {p['attainable_read_gbs']:.2f} GB/s: MBU {100*led['mbu']:.1f} % "
      f"(vs cached probe alone {100*led['avg_gbs']/p['read']['best_gbs']:.1f} %), MFU {100*led['mfu']:.2f} %, "
      f"verdict {led['verdict']['bound']}")
assert led["mbu"] <= 1.0, "MBU above 100 %"
PY
done

if [ -x "$peers/llamacpp" ] && [ -n "$model" ]; then
  echo "== llama.cpp decode on the same file, judged against the same probe"
  # Bracketed like bwscope's own runs: a quick probe (2 repetitions, not cached) before and after.
  flock "$lock" "$bw" probe --quick --threads "$threads" --json > "$out/before.json"
  lc=$(flock "$lock" "$peers/llamacpp" bench "$model" "$threads" 0 32 3)
  flock "$lock" "$bw" probe --quick --threads "$threads" --json > "$out/after.json"
  python3 - "$out/bench3.json" "$lc" "$out/before.json" "$out/after.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); lc = json.loads(sys.argv[2])
tg = lc["tg"]["median_tps"]
brackets = [json.load(open(f))["read"]["best_gbs"] for f in sys.argv[3:5]]
bpt = j["decode"]["bytes_per_token"]; att = max([j["probe"]["read"]["best_gbs"]] + brackets)
print(f"brackets {brackets[0]:.2f} -> {brackets[1]:.2f} GB/s")
gbs = bpt * float(tg) / 1e9
print(f"llama.cpp tg32 {float(tg):.2f} tok/s x {bpt/1e6:.1f} MB/token = {gbs:.2f} GB/s: MBU {100*gbs/att:.1f} % of {att:.2f} GB/s ({lc})")
PY
fi
