#!/usr/bin/env bash
# bwscope's logits against llama.cpp's on files made by llama.cpp's own quantizer, and on
# bwscope's own Q4_K_M file (which llama.cpp must load too).
#
#   bench/compare_logits_llamacpp.sh BF16_MODEL [FTYPES] [TOKENS]
#     FTYPES  comma list of llama.cpp file types (default 7,15,17,18: Q8_0, Q4_K_M, Q5_K_M, Q6_K)
#     TOKENS  comma list of token ids (default 12 of them, BOS first)
# Env: BW (the bwscope binary, default build/release/bwscope), OUT (work folder, default
# /tmp/bwscope-logits), PEERS.
# Prints one JSON line per file (node bench/logits_diff.js): max |a - b| / max |b| over the
# rows, and how often the argmax agrees. On random synthetic weights, float rounding alone
# moves the logits by ~3 % (bwscope's scalar and AVX-512 tables differ that much on Q8_0), so
# that is the floor of this comparison; a wrong block layout gives ~100 %.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bw=${BW:-$here/build/release/bwscope}
peers=${PEERS:-$here/../shared/peers}
model=${1:?usage: compare_logits_llamacpp.sh BF16_MODEL [FTYPES] [TOKENS]}
ftypes=${2:-7,15,17,18}
tokens=${3:-128000,791,4062,374,264,1296,315,279,4846,13,578,3938}
out=${OUT:-/tmp/bwscope-logits}
mkdir -p "$out"
n_vocab=$("$bw" info "$model" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).n_vocab))')

compare() {  # name file
  "$bw" generate "$2" --tokens "$tokens" -n 1 --dump-logits "$out/$1.bwscope.f32" >/dev/null
  "$peers/llamacpp" logits "$2" "$out/$1.llamacpp.f32" "$tokens" >/dev/null 2>&1
  printf "%-22s %s\n" "$1" "$(node "$here/bench/logits_diff.js" "$out/$1.bwscope.f32" "$out/$1.llamacpp.f32" "$n_vocab")"
}

for ft in ${ftypes//,/ }; do
  file=$out/llamacpp-ftype$ft.gguf
  [ -f "$file" ] || "$peers/llamacpp" quantize "$model" "$file" "$ft" >/dev/null 2>&1
  compare "llama.cpp ftype $ft" "$file"
done
file=$out/bwscope-q4_k_m.gguf
[ -f "$file" ] || "$bw" quantize "$model" "$file" --type q4_k_m >/dev/null
compare "bwscope q4_k_m" "$file"
