#!/usr/bin/env bash
# Builds the libFuzzer build (clang, -DEDGESET_FUZZ=ON: every library instrumented for coverage
# and built with ASan + UBSan) and runs each fuzz target for a while. docs/fuzzing.md.
#
#   scripts/fuzz.sh [-j N] [SECONDS] [TARGET...]
#
# SECONDS per target (default 300); TARGET names like `tflite` or `fuzz_tflite` (default: every
# tests/fuzz/fuzz_*.c); -j N runs N targets at once (default 1). Needs clang and its runtimes:
# `bash scripts/setup.sh fuzz`. Environment: EDGESET_FUZZ_BUILD (build folder, default
# build-fuzz), EDGESET_FUZZ_TIMEOUT (seconds one input may take, default 20),
# EDGESET_FUZZ_RSS_MB (memory limit, default 2560), EDGESET_FUZZ_MALLOC_MB (largest single
# allocation, default 512: more from inputs of a few KB is a finding), EDGESET_FUZZ_FRESH=1 (start from the seeds
# alone, discarding the corpus earlier runs grew).
#
# Each target fuzzes a working corpus build-fuzz/fuzz-corpus/<name>/ (kept between runs, so
# that runs build on each other) seeded with the committed tests/fuzz/corpus/<name>/. Committed
# crash-*/leak-*/timeout-*/oom-* inputs are replayed first: one that still fails is reported and
# left out of the seeds. A new failure is saved as tests/fuzz/corpus/<name>/crash-<sha1> (leak-,
# timeout-, oom-) and fuzzing goes on for the rest of the time; failures with the same sanitizer
# summary and first project frame as one already saved in this run are dropped as duplicates.
# Per target it prints executions, exec/s, coverage (cov, ft) at the start and at the end, the
# working corpus size and the failures; logs are in build-fuzz/fuzz-logs/. Exits 1 when a
# target failed (new or still-failing input), else 0.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${EDGESET_FUZZ_BUILD:-$root/build-fuzz}
timeout_s=${EDGESET_FUZZ_TIMEOUT:-20}
rss_mb=${EDGESET_FUZZ_RSS_MB:-2560}
malloc_mb=${EDGESET_FUZZ_MALLOC_MB:-512}
max_restarts=8 # new failures one target may save in a run before it stops

jobs=1
if [ "${1:-}" = "-j" ]; then
  jobs=${2:?-j needs a number}
  shift 2
fi
seconds=300
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi

if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang not found; run: bash scripts/setup.sh fuzz" >&2
  exit 2
fi

targets=()
if [ $# -gt 0 ]; then
  for t in "$@"; do
    t=${t#fuzz_}
    [ -f "$root/tests/fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: no target tests/fuzz/fuzz_$t.c" >&2; exit 2; }
    targets+=("$t")
  done
else
  for f in "$root"/tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    targets+=("${t#fuzz_}")
  done
fi

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEDGESET_FUZZ=ON >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 3; }
rm -f "$build.configure.log"
cmake --build "$build" -j 2 --target "${targets[@]/#/fuzz_}"

logs=$build/fuzz-logs
mkdir -p "$logs"
symbolizer=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | tail -1 || true)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1${symbolizer:+:external_symbolizer_path=$symbolizer}}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The key a failure is deduplicated by: its sanitizer/libFuzzer summary and the first stack frame
# in the project's own code.
failure_key() {
  local log=$1 summary frame
  summary=$(grep -m1 -E '^SUMMARY: |ERROR: libFuzzer: ' "$log" |
            sed -E 's/0x[0-9a-f]+//g; s/==[0-9]+==//g; s/\(([0-9]+)\)//g' || true)
  # "#7 0x55b6 in check_csv /work/main/tests/fuzz/fuzz_csv.c:41:9": a frame with a source file
  # of the project (frames of a binary show "(/path/bin+0x...)" instead)
  frame=$(grep -E "^ +#[0-9]+ 0x[0-9a-f]+ in [^ ]+ $root/" "$log" | head -1 |
          sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in //' || true)
  echo "$summary | $frame"
}

run_target() {
  local t=$1 bin=$build/bin/fuzz_$1 seeds=$root/tests/fuzz/corpus/$1
  local work=$build/fuzz-corpus/$1 seeddir=$build/fuzz-seeds/$1 out=$logs/$1.result
  [ "${EDGESET_FUZZ_FRESH:-0}" = 1 ] && rm -rf "$work"
  rm -rf "$seeddir" "$logs/$1".*.log
  mkdir -p "$work" "$seeddir"
  local known=() f
  # Committed failures: replay each; those that still fail stay out of the seeds.
  for f in "$seeds"/*; do
    [ -f "$f" ] || continue
    case $(basename "$f") in
      crash-*|leak-*|timeout-*|oom-*)
        if ! "$bin" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" -malloc_limit_mb="$malloc_mb" "$f" >"$logs/$t.replay.log" 2>&1; then
          known+=("$(basename "$f")")
          continue
        fi ;;
    esac
    cp "$f" "$seeddir/"
  done
  local start=$SECONDS left=$seconds n=0 execs=0 cov0="" ft0="" cov="" ft="" new=() keys=()
  while [ "$left" -gt 0 ] && [ "$n" -le "$max_restarts" ]; do
    local log=$logs/$t.$n.log before after rc=0
    before=$(ls "$seeds" | sort)
    "$bin" -max_total_time="$left" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" \
      -malloc_limit_mb="$malloc_mb" -report_slow_units=1000000 \
      -print_final_stats=1 -artifact_prefix="$seeds/" "$work" "$seeddir" >"$log" 2>&1 || rc=$?
    after=$(ls "$seeds" | sort)
    local e
    e=$(grep -m1 '^stat::number_of_executed_units:' "$log" | awk '{print $2}' || true)
    [ -n "$e" ] || e=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -E 's/^#([0-9]+).*/\1/' || true)
    execs=$((execs + ${e:-0}))
    if [ -z "$cov0" ]; then
      cov0=$(grep -m1 'INITED' "$log" | sed -nE 's/.* cov: ([0-9]+).*/\1/p' || true)
      ft0=$(grep -m1 'INITED' "$log" | sed -nE 's/.* ft: ([0-9]+).*/\1/p' || true)
    fi
    local last
    last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1 || true)
    if [ -n "$last" ]; then
      cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
      ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    fi
    [ "$rc" -eq 0 ] && break
    local art
    art=$(comm -13 <(echo "$before") <(echo "$after") | head -1)
    if [ -z "$art" ]; then
      echo "fuzz.sh: fuzz_$t stopped ($rc) without saving an input; see $log" >&2
      new+=("(no input saved, exit $rc: $log)")
      break
    fi
    local key dup=0 k
    key=$(failure_key "$log")
    for k in "${keys[@]+"${keys[@]}"}"; do [ "$k" = "$key" ] && dup=1; done
    if [ "$dup" = 1 ]; then
      rm -f "$seeds/$art"
    else
      keys+=("$key")
      new+=("$art: $key")
      cp "$log" "$logs/$t.$art.log"
    fi
    n=$((n + 1))
    left=$((seconds - (SECONDS - start)))
  done
  local spent=$((SECONDS - start)) files bytes
  [ "$spent" -gt 0 ] || spent=1
  files=$(find "$work" -type f | wc -l)
  bytes=$(du -sb "$work" | cut -f1)
  {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$execs" "$((execs / spent))" \
      "${cov0:-?}" "${ft0:-?}" "${cov:-?}" "${ft:-?}" "$files" "$bytes" "${#new[@]}"
    for f in "${new[@]+"${new[@]}"}"; do printf 'new\t%s\n' "$f"; done
    for f in "${known[@]+"${known[@]}"}"; do printf 'known\t%s\n' "$f"; done
  } >"$out"
  echo "fuzz_$t: done (${spent}s, $execs executions, cov $cov0 -> $cov, ${#new[@]} new failures)"
}

echo "fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
wait || true

status=0
echo
printf '%-14s %12s %8s %14s %14s %16s %9s\n' target executions exec/s 'cov (start)' 'ft (start)' corpus failures
for t in "${targets[@]}"; do
  r=$logs/$t.result
  if [ ! -f "$r" ]; then
    printf '%-14s (no result)\n' "$t"
    status=1
    continue
  fi
  IFS=$'\t' read -r _ execs rate cov0 ft0 cov ft files bytes nnew <"$r"
  nknown=$(grep -c '^known' "$r" || true)
  printf '%-14s %12s %8s %14s %14s %16s %9s\n' "$t" "$execs" "$rate" "$cov ($cov0)" "$ft ($ft0)" \
    "$files/${bytes}b" "$nnew new, $nknown old"
  [ "$nnew" -eq 0 ] && [ "$nknown" -eq 0 ] || status=1
done
for t in "${targets[@]}"; do
  r=$logs/$t.result
  [ -f "$r" ] || continue
  { grep -E '^(new|known)' "$r" || true; } | while IFS=$'\t' read -r kind what; do
    if [ "$kind" = new ]; then
      echo "fuzz_$t: NEW tests/fuzz/corpus/$t/$what"
    else
      echo "fuzz_$t: still fails: tests/fuzz/corpus/$t/$what"
    fi
  done
done
exit $status
