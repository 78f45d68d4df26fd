#!/usr/bin/env bash
# bwscope's engine against llama.cpp on the same files and cores, interleaved (A B A B ...),
# each bwscope run bracketed by read-bandwidth probes; prints a table of medians and ratios.
# The decode's share of readbw is taken per round against the lower of the two probes right
# before and right after that round's bwscope run (the host's bandwidth drifts within minutes),
# and its median over the rounds is printed.
#
#   bench/compare_llamacpp.sh [TYPES] [PRESET] [ROUNDS]
#     TYPES   comma list of weight types (default q4_0,q8_0,bf16,f16; also q4_k_m, q5_k_m,
#             q4_k, q5_k, q6_k: the same bwscope-made file runs in both engines)
#     PRESET  llama-3.2-1b (default) or llama-3.2-3b
#     ROUNDS  interleaved rounds (default 3; each round runs both engines once)
# Env: THREADS (default 2), PP (512), TG (128), MODELS_DIR (default ~/.cache/bwscope/models),
# BW (the bwscope binary, default build/release/bwscope), LOCK (a file to flock around each
# timed run, so runs of others on the same machine do not overlap them; default none).
# Needs the release build and ../shared/peers next to the checkout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bw=${BW:-$here/build/release/bwscope}
peers=${PEERS:-$here/../shared/peers}
types=${1:-q4_0,q8_0,bf16,f16}
preset=${2:-llama-3.2-1b}
rounds=${3:-3}
threads=${THREADS:-2}
pp=${PP:-512}
tg=${TG:-128}
models=${MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bwscope/models}
mkdir -p "$models"
[ -x "$bw" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }

locked() { if [ -n "${LOCK:-}" ]; then flock "$LOCK" "$@"; else "$@"; fi; }
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);const v=process.argv[1].split(".").reduce((o,k)=>o?.[k],j);console.log(v??"nan")})' "$1"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

bw_before=$("$peers/readbw" "$threads")
printf "%-8s %-6s %10s %10s %8s   %s\n" type phase bwscope llama.cpp ratio "(tokens/s, medians of $rounds interleaved rounds, $threads threads, $preset)"
declare -A rows shares probes
for t in ${types//,/ }; do
  model=$models/$preset-$t-bench.gguf
  [ -f "$model" ] || "$bw" synth --preset "$preset" --type "$t" --out "$model" --tokenizer none >/dev/null
  bpp=""; btg=""; lpp=""; ltg=""; bgbs=""; share=""; lows=""
  for ((r = 0; r < rounds; r++)); do
    before=$(locked "$peers/readbw" "$threads")
    out=$(locked "$bw" bench "$model" -p "$pp" -n "$tg" -t "$threads" -r 1 --json)
    after=$(locked "$peers/readbw" "$threads")
    bpp+=" $(echo "$out" | json prefill.tokens_per_s)"; btg+=" $(echo "$out" | json decode.tokens_per_s)"
    gbs=$(echo "$out" | json decode.avg_bandwidth_gbs)
    bgbs+=" $gbs"
    low=$(echo "$before $after" | awk '{print $1 < $2 ? $1 : $2}')
    lows+=" $low"; share+=" $(echo "$gbs $low" | awk '{printf "%.3f", $1/$2}')"
    out=$(locked "$peers/llamacpp" bench "$model" "$threads" "$pp" "$tg" 1)
    lpp+=" $(echo "$out" | json pp.median_tps)"; ltg+=" $(echo "$out" | json tg.median_tps)"
  done
  for phase in pp tg; do
    if [ $phase = pp ]; then b=$(echo $bpp | median); l=$(echo $lpp | median); else b=$(echo $btg | median); l=$(echo $ltg | median); fi
    printf "%-8s %-6s %10.2f %10.2f %8.3f\n" "$t" "$phase$([ $phase = pp ] && echo $pp || echo $tg)" "$b" "$l" "$(echo "$b $l" | awk '{print $1/$2}')"
  done
  rows[$t]=$(echo $bgbs | median); shares[$t]="$(echo $share | median) (rounds:$share)"; probes[$t]=$(echo $lows | median)
done
bw_after=$("$peers/readbw" "$threads")
echo
echo "readbw ($threads threads): before $bw_before GB/s, after $bw_after GB/s"
for t in ${types//,/ }; do
  printf "bwscope decode %-6s %6.2f GB/s; per round against the lower readbw around it: median %s (that readbw: median %.2f GB/s)\n" \
    "$t" "${rows[$t]}" "${shares[$t]}" "${probes[$t]}"
done
