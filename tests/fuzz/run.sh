#!/usr/bin/env bash
# Builds the fuzzers if needed and runs each for SECONDS:
#   tests/fuzz/run.sh SECONDS [libFuzzer flags...]
# check: the whole `nnspec check` path (parse, sema with data probes, plan) on spec text,
#        seeded with specs/, tests/golden/ and tests/e2e/specs/;
# data:  the IDX (plain and gzip) and CSV readers, seeded with tests/fuzz/seeds/data/.
# The fuzzers are built with clang-19, libFuzzer, ASan and UBSan in a build folder of
# their own ($NNSPEC_FUZZ_BUILD_DIR, default build-fuzz/ in the checkout; the normal
# build is untouched). Inputs that once failed (tests/fuzz/regressions/<target>/) are run
# first. The corpus grows in <build folder>/corpus/<target>/ from run to run. A crash,
# hang, leak or unclean outcome stops that fuzzer; the input is saved in
# <build folder>/artifacts/ and the script exits 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tests/fuzz/run.sh SECONDS [libFuzzer flags...] (SECONDS: a whole number from 1)" >&2
  exit 2
fi
shift
build=${NNSPEC_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${NNSPEC_FUZZ_JOBS:-2}
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: NNSPEC_FUZZ_JOBS=$jobs: expected a whole number of build jobs from 1" >&2
  exit 2
fi

for tool in clang-19 clang++-19; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool not found; the fuzzers need clang-19 and libFuzzer" >&2
    echo "hint: run scripts/setup.sh --tests (or apt-get install clang-19 libfuzzer-19-dev)" >&2
    exit 2
  fi
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "fuzz: configuring $build with clang-19"
  CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$build" -DNNSPEC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$jobs" --target nnspec_check_fuzzer nnspec_data_fuzzer

# Seeds: every spec the project has for check; packed data files for data.
seeds=$build/seeds
rm -rf "$seeds"
mkdir -p "$seeds/check" "$seeds/data" "$root/tests/fuzz/regressions/check" "$root/tests/fuzz/regressions/data" "$build/corpus/check" "$build/corpus/data" "$build/artifacts"
find "$root/specs" "$root/tests/golden" "$root/tests/e2e/specs" "$root/tests/cluster/specs" -name '*.nnspec' |
  while read -r spec; do cp "$spec" "$seeds/check/$(echo "${spec#"$root"/}" | tr / _)"; done
cp "$root"/tests/fuzz/seeds/data/* "$seeds/data/"
# The grammar's keywords as a dictionary for check.
grep -o "'[a-z_]*'" "$root/grammar/NNSpec.g4" | sort -u | sed "s/'\(.*\)'/\"\1\"/" >"$build/check.dict"

# Faster: shorter allocation stacks in reports, and no strcmp interception (the parser's
# dynamic_casts across the ANTLR runtime compare type names with strcmp, which libFuzzer
# then traces). Leak, use-after-free and overflow checks are unchanged.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=5:intercept_strcmp=0}
# A main-thread stack above the 1 GiB a check runs on: the check then runs on the fuzzer's
# own thread instead of starting one per input (where it can; otherwise as before).
ulimit -s 2097152 2>/dev/null || true

status=0
for target in check data; do
  dict=()
  [ "$target" = check ] && dict=(-dict="$build/check.dict")
  echo "fuzz: $target for ${seconds}s"
  log=$build/$target.log
  set +e
  "$build/tests/fuzz/nnspec_${target}_fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "${dict[@]}" "$@" \
    "$build/corpus/$target" "$seeds/$target" "$root/tests/fuzz/regressions/$target" >"$log" 2>&1
  code=$?
  set -e
  grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb|INFO: Loaded|INFO: seed corpus)' "$log" || true
  grep -E 'cov: [0-9]+' "$log" | tail -1 || true
  if [ "$code" -ne 0 ]; then
    echo "fuzz: $target failed (exit $code); the last lines of $log:" >&2
    tail -n 60 "$log" >&2
    echo "hint: fix the bug, then add the input from $build/artifacts/ to tests/fuzz/regressions/$target/" >&2
    status=1
  fi
done
exit $status
