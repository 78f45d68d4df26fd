#!/usr/bin/env bash
# The sanitizer half of CI (`.ci/run` runs it after scripts/test.sh):
#   1. the asan preset (gcc, ASan + UBSan, any report fatal): the whole test suite;
#   2. the tsan preset: the tests that run threads — the thread pool, the co-location runner
#      (threads and processes), the engine and the kernels it drives, the live sampler;
#   3. every libFuzzer target for FUZZ_SECONDS (default 30) on its seeds and kept corpus.
# Each step prints how long it took. Run one step alone with `scripts/sanitize.sh asan|tsan|fuzz`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- asan tsan fuzz
jobs=$(nproc)
root=$(pwd)

step() {
  local name=$1 t0=$SECONDS
  shift
  echo "== sanitize: $name"
  "$@"
  echo "== sanitize: $name passed in $((SECONDS - t0)) s"
}

# TSan only on what runs threads; the rest of the suite gains nothing from it but time.
tsan_tests='^(ThreadPool|SplitRange|Colocate|ColocateOverlap|ColocateWire|EveryMode/ColocateModes|SharedWeights|EngineTest|EngineLedger|LiveRate|CounterRecorder|Kernels/KernelMatmul|Kernels/KernelQuant8Matmul)\.'

asan() {
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  # Leak checking stays on (ASan's default); the preset's -fno-sanitize-recover=all already
  # makes a UBSan report fatal, and print_stacktrace says where.
  UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan -j "$jobs" --timeout 900 -E '^Split\.'
  # The split runs under mpirun: Open MPI leaves allocations at exit that LeakSanitizer would
  # report as the CLI's. Suppressed by library (scripts/lsan-mpi.supp); the full unwinder is
  # needed to see those libraries' frames, so it is on only for these tests.
  ASAN_OPTIONS=fast_unwind_on_malloc=0 LSAN_OPTIONS="suppressions=$root/scripts/lsan-mpi.supp:fast_unwind_on_malloc=0" \
    UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan -j "$jobs" --timeout 900 -R '^Split\.'
}

tsan() {
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --preset tsan -j "$jobs" --timeout 900 -R "$tsan_tests"
}

fuzz() { scripts/fuzz.sh "${FUZZ_SECONDS:-30}"; }

for s in "$@"; do
  case $s in
    asan) step "ASan+UBSan, all tests" asan ;;
    tsan) step "TSan, thread-pool/runner/engine tests" tsan ;;
    fuzz) step "fuzz targets, ${FUZZ_SECONDS:-30} s each" fuzz ;;
    *) echo "scripts/sanitize.sh: unknown step '$s' (asan, tsan or fuzz)" >&2; exit 2 ;;
  esac
done
