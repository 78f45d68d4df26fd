#!/usr/bin/env bash
# `bwscope compare` against the roof of one core, per model: each round runs readbw on one
# pinned thread, then `bwscope compare -m MODEL -p P -n N` with its defaults (processes,
# partitioned cores, one thread each) plus EXTRA, then readbw again. It prints, per model and
# round, the single instance's decode GB/s, its share of the lower readbw, the two-instance
# scenario's decode GB/s, the measured resident memory of both scenarios and their ratio, the
# repack time, and both scenarios' decode verdicts; then the median share per model.
#
#   bench/compare_roofs.sh MODEL.gguf [MODEL.gguf ...]
# Env: ROUNDS (default 3), P (16), N (32), WEIGHTS (shared; or private, file), EXTRA (more
# compare flags), BW (default build/release/bwscope), PEERS (default ../shared/peers),
# OUT (directory for each round's JSON report; default a temporary one).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bw=${BW:-$here/build/release/bwscope}
peers=${PEERS:-$here/../shared/peers}
rounds=${ROUNDS:-3}
out=${OUT:-$(mktemp -d)}
[ -x "$bw" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 MODEL.gguf [MODEL.gguf ...]" >&2; exit 2; }
mkdir -p "$out"

# Reads the fields the table needs from a compare JSON report, tab-separated.
fields() {
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const [one, two] = j.scenarios;
    const v = s => s.aggregate.decode_verdict ? s.aggregate.decode_verdict.bound : "-";
    const gib = b => b == null ? "nan" : (b / 2 ** 30).toFixed(3);
    console.log([one.aggregate.decode_gbs.toFixed(2), two.aggregate.decode_gbs.toFixed(2),
                 gib(one.aggregate.resident_bytes), gib(two.aggregate.resident_bytes),
                 (two.aggregate.resident_bytes / one.aggregate.resident_bytes).toFixed(3),
                 j.weights.files.map(f => f.seconds.toFixed(1)).join("+"), v(one), v(two)].join("\t"));
  ' "$1"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf "%-28s %5s %8s %8s %6s %8s %7s %7s %7s %7s %-9s %-9s\n" model round readbw1 "1 GB/s" share "2 GB/s" \
  "res1" "res2" "res2/1" "prep s" "verdict1" "verdict2"
for model in "$@"; do
  shares=""
  for ((r = 1; r <= rounds; r++)); do
    before=$(taskset -c 0 "$peers/readbw" 1)
    json="$out/$(basename "$model" .gguf)-$r.json"
    "$bw" compare -m "$model" -p "${P:-16}" -n "${N:-32}" --weights "${WEIGHTS:-shared}" --no-progress --json-out "$json" \
      ${EXTRA:-} >/dev/null
    after=$(taskset -c 0 "$peers/readbw" 1)
    low=$(echo "$before $after" | awk '{print $1 < $2 ? $1 : $2}')
    IFS=$'\t' read -r one two res1 res2 ratio prep v1 v2 <<<"$(fields "$json")"
    share=$(echo "$one $low" | awk '{printf "%.3f", $1 / $2}')
    shares+=" $share"
    printf "%-28s %5d %8.2f %8.2f %6s %8.2f %7s %7s %7s %7s %-9s %-9s\n" "$(basename "$model")" "$r" "$low" "$one" "$share" \
      "$two" "$res1" "$res2" "$ratio" "$prep" "$v1" "$v2"
  done
  echo "$(basename "$model"): single-instance decode at a median $(echo $shares | median) of one pinned core's readbw (rounds:$shares)"
done
echo "reports: $out"
