#!/usr/bin/env bash
# Five ways to use this machine's cores for one model, side by side (issue 20): one process
# on 1 thread, one process on 2 threads, tensor parallel over 2 ranks (1 thread each),
# pipeline parallel over 2 ranks, and 2 independent instances (compare's "2 × parallel").
# Each round runs the five back to back, interleaved; the table gives each way's medians:
# decode TPOT, aggregate decode tokens/s, weight GB/s per rank (its weight bytes per step ×
# steps/s; the KV cache of a short context is left out) and the MPI share of the run.
#
#   bench/split_ways.sh MODEL.gguf [MODEL.gguf ...]
# Env: ROUNDS (default 3), N (generated tokens, default 64), BW (default build/release/bwscope),
# OMPI_MCA_btl (e.g. tcp,self: Open MPI's TCP transport).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bw=${BW:-$here/build/release/bwscope}
rounds=${ROUNDS:-3}
n=${N:-64}
[ -x "$bw" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 MODEL.gguf [MODEL.gguf ...]" >&2; exit 2; }
tokens=3,141,59,26,53,58,97,93,23,84
out=$(mktemp -d)

# One generate run (MODEL JSON_FILE WEIGHT_GB FLAGS...): TPOT ms, tokens/s, GB/s per rank, MPI %.
gen() {
  local model=$1 f=$2 gb=$3
  shift 3
  "$bw" generate "$model" --tokens "$tokens" -n "$n" --json "$@" > "$f" 2>/dev/null
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const tps = j.decode.tokens_per_s;
    let gb = Number(process.argv[2]), share = 0;
    if (j.split) {  // per rank: "rank r: weights X GB; MPI c calls, M MB, T ms (S % of the run); ..."
      const ranks = j.split.per_rank.trim().split("\n");
      gb = Math.max(...ranks.map(l => Number(/weights ([0-9.]+) GB/.exec(l)[1])));
      share = Math.max(...ranks.map(l => Number(/\(([0-9.]+) % of the run\)/.exec(l)[1])));
    }
    console.log([(1000 / tps).toFixed(1), tps.toFixed(2), (gb * tps).toFixed(2), share.toFixed(1)].join("\t"));
  ' "$f" "$gb"
}

for model in "$@"; do
  gb=$("$bw" info "$model" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).weight_bytes/1e9))')
  : > "$out/rows"
  for r in $(seq "$rounds"); do
    echo "1 rank x 1 thread	$(gen "$model" "$out/a.json" "$gb" -t 1)" >> "$out/rows"
    echo "1 rank x 2 threads	$(gen "$model" "$out/b.json" "$gb" -t 2)" >> "$out/rows"
    echo "--tp 2 (1 thread each)	$(gen "$model" "$out/c.json" "$gb" -t 1 --tp 2)" >> "$out/rows"
    echo "--pp 2 (1 thread each)	$(gen "$model" "$out/d.json" "$gb" -t 1 --pp 2)" >> "$out/rows"
    "$bw" compare -m "$model" -p 10 -n "$n" --probe none --no-progress --json > "$out/e.json" 2>/dev/null
    node -e '
      const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const s = j.scenarios.find(x => x.name.includes("parallel"));
      const tpot = s.aggregate.tpot_p50_ms, tps = s.aggregate.tokens_per_s;
      const gbs = s.instances.map(i => i.decode_gbs);
      console.log(["2 instances (1 thread each)", tpot.toFixed(1), tps.toFixed(2), Math.max(...gbs).toFixed(2), "0.0"].join("\t"));
    ' "$out/e.json" >> "$out/rows"
  done
  echo "## $(basename "$model") ($rounds rounds, medians; $(date -u +%FT%TZ))"
  echo "| way | TPOT ms | decode tokens/s (all) | weight GB/s per rank | MPI share of the run |"
  echo "|---|---|---|---|---|"
  node -e '
    const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => l.split("\t"));
    const med = a => { a = a.map(Number).sort((x, y) => x - y); return a[(a.length - 1) >> 1]; };
    for (const w of [...new Set(rows.map(r => r[0]))]) {
      const cols = rows.filter(r => r[0] === w).map(r => r.slice(1));
      console.log(`| ${w} | ${[0, 1, 2, 3].map(i => med(cols.map(c => c[i]))).join(" | ")} % |`);
    }
  ' "$out/rows"
done
