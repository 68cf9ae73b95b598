#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/: the CSV reader, the checkpoint reader, the safetensors
# reader, the command-line parser) with clang, ASan and UBSan into build-fuzz/, and runs each for SECONDS (default 60) from a
# copy of its seed corpus (tests/fuzz/corpus/<target>/; the repository's copy is never modified).
# Fails on any finding: a crash, an uncaught exception that is not rnnattn's own error, a sanitizer
# report, a leak, a hang (-timeout) or a blow-up (-rss_limit_mb). A finding's input is left in
# build-fuzz/findings/<target>/: fix it and add it to the tests as a regression case.
#   tools/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
command -v clang++ >/dev/null || {
  echo "fuzz.sh: clang++ is needed (Debian's clang package)" >&2
  exit 1
}
mkdir -p build-fuzz
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNATTN_CUDA=OFF \
  -DRNNATTN_FUZZ=ON -DRNNATTN_BUILD_TESTS=OFF -DRNNATTN_BUILD_BENCHMARKS=OFF -DRNNATTN_BUILD_CLI=OFF \
  >build-fuzz/configure.log 2>&1 || { cat build-fuzz/configure.log >&2; exit 1; }
cmake --build build-fuzz -j "${JOBS:-$(nproc 2>/dev/null || echo 2)}" --target fuzz_csv fuzz_checkpoint fuzz_args fuzz_safetensors
status=0
for target in csv checkpoint args safetensors; do
  work=$(mktemp -d) scratch=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$target/." "$work/"
  findings="build-fuzz/findings/$target"
  mkdir -p "$findings"
  echo "== fuzz_$target for ${seconds}s (seed corpus: $(ls "$work" | wc -l) inputs)"
  if ! TMPDIR="$scratch" "build-fuzz/tests/fuzz/fuzz_$target" "$work" -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$findings/" 2>"$scratch/log"; then
    status=1
    tail -n 60 "$scratch/log" >&2
    echo "fuzz.sh: fuzz_$target found a problem; its input is in $findings/" >&2
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$scratch/log" | tr '\n' ' '
    echo
  fi
  rm -rf "$work" "$scratch"
done
exit $status
