#!/usr/bin/env bash
# Decode on the file's own mapping (`bench --layout file`, which re-reads the file into the page
# cache first) against decode on the interleaved private copy (`--layout auto`), the two
# alternating, one pinned thread: per round both tokens/s and their ratio, then the median
# ratio per model. The target: file >= 0.8 × interleaved for every type that has an interleaved
# layout (docs/engine.md).
#
#   bench/file_layout.sh MODEL.gguf [MODEL.gguf ...]
# Env: ROUNDS (default 3), N (decode tokens, default 32), CPU (default 0), ISA (kernel table;
# default the best), BW (default build/release/bwscope).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bw=${BW:-$here/build/release/bwscope}
rounds=${ROUNDS:-3}
[ -x "$bw" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 MODEL.gguf [MODEL.gguf ...]" >&2; exit 2; }
isa=()
[ -n "${ISA:-}" ] && isa=(--isa "$ISA")

tps() {
  taskset -c "${CPU:-0}" "$bw" bench "$1" -p 1 -n "${N:-32}" -t 1 -r 1 --probe none --bracket-s 0 --layout "$2" "${isa[@]}" --json \
    2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).decode.tokens_per_s.toFixed(2)))'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf "%-28s %5s %12s %12s %7s\n" model round "file tok/s" "inter tok/s" ratio
for model in "$@"; do
  ratios=""
  for ((r = 1; r <= rounds; r++)); do
    f=$(tps "$model" file)
    i=$(tps "$model" auto)
    ratio=$(echo "$f $i" | awk '{printf "%.3f", $1 / $2}')
    ratios+=" $ratio"
    printf "%-28s %5d %12s %12s %7s\n" "$(basename "$model")" "$r" "$f" "$i" "$ratio"
  done
  echo "$(basename "$model"): file / interleaved decode, median $(echo $ratios | median) (rounds:$ratios)"
done
