#!/usr/bin/env bash
# Checks that a refactoring changed no dataset byte and no report: builds BASE_REV (in a git
# worktree) and the working tree, runs the demo's steps (collect day1 and day2, label --from csv
# --labels, label --rename, split, split --release and a second split, augment; then label
# --balance, eval and drift; demo/run.sh) with SOURCE_DATE_EPOCH set against each build on the
# same captures, and compares byte for byte: the dataset after every step (manifest.jsonl,
# index.bin, ledger.jsonl, quarantine.jsonl, labels.txt, edgeset.json, every object), the
# reports' JSON (balance, eval with the measured host latency left out, drift) and eval
# --dump-outputs of the conformance models in tests/data/tflite.
#
# usage: scripts/refactor-check.sh BASE_REV
# Environment: WORK (default /tmp/refactor-check) holds the worktree, builds and datasets;
# JOBS (default 2) is the build's parallelism. Prints "identical" or "different" per file and
# exits 0 when everything is identical, 1 otherwise.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BASE_REV" >&2; exit 2; }
base_rev=$1
cd "$(dirname "$0")/.."
top=$PWD
work=${WORK:-/tmp/refactor-check}
jobs=${JOBS:-2}
targets=(edgeset edgeset-collect edgeset-label edgeset-split edgeset-augment edgeset-eval
         edgeset-drift)
mkdir -p "$work"

# The base: a detached worktree at BASE_REV (re-used when it is already there).
base_src=$work/base-src
if [ -d "$base_src" ]; then
  git -C "$base_src" checkout -q --detach "$base_rev"
else
  git worktree add -q --detach "$base_src" "$base_rev"
fi

build() { # SRC BUILD_DIR
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGESET_WERROR=ON >/dev/null
  cmake --build "$2" -j"$jobs" --target "${targets[@]}" >/dev/null
}
echo "building $base_rev ..."
build "$base_src" "$work/build-base"
echo "building the working tree ..."
build "$top" "$work/build-new"

captures=$work/captures
if [ ! -f "$captures/labels.csv" ]; then
  rm -rf "$captures"
  /usr/bin/python3 "$top/demo/make_captures.py" "$captures" >/dev/null
fi

export SOURCE_DATE_EPOCH=1700000000
unset EDGESET_DATASET EDGESET_CRASH_AT || true

run_steps() { # BIN_DIR OUT
  # Both builds run in the same folder ($work/run, moved to OUT afterwards), so that paths the
  # outputs record (eval's dataset and labels file) are the same too.
  local bin=$1/bin/edgeset out=$work/run ds=$work/run/dataset
  rm -rf "$out" "$2"
  mkdir -p "$out/snap" "$out/reports"
  local n=0
  snap() { n=$((n + 1)); cp -a "$ds" "$out/snap/$(printf %02d "$n")-$1"; }
  (
    cd "$captures"
    for day in day1 day2; do
      "$bin" collect -d "$ds" --near 6 --batch "$day" --device-from dir:1 "$day" >/dev/null
      snap "collect-$day"
    done
    "$bin" label -d "$ds" --from csv:labels.csv --labels "$top/models/labels.txt" >/dev/null
    snap label
    "$bin" label -d "$ds" --rename bag=handbag >/dev/null
    snap label-rename
    "$bin" split -d "$ds" --ratios 60:10:30 --seed 1 >/dev/null
    snap split
    "$bin" split -d "$ds" --release val >/dev/null
    snap split-release
    "$bin" split -d "$ds" --ratios 60:10:30 --seed 2 >/dev/null
    snap split-again
    "$bin" augment -d "$ds" --per-image 2 --ops 'hflip@0.5,rotate:10,bright:0.15' --seed 1 \
      --preview "$out/reports/augment.html" >/dev/null
    snap augment
    "$bin" augment -d "$ds" --per-image 2 --ops 'hflip@0.5,rotate:10,bright:0.15' --seed 1 \
      >/dev/null
    snap augment-again
    # the reports' JSON, with eval's measured host latency left out
    local js=$out/snap/json
    mkdir -p "$js"
    "$bin" label -d "$ds" --balance --json >"$js/balance.json" || true
    "$bin" eval -d "$ds" --model "$top/models/fashion_mnist_int8.tflite" --split test \
      --preprocess resize=stretch,channels=gray --json |
      /usr/bin/python3 -c 'import json,sys
def drop(o):
    if isinstance(o, dict):
        return {k: drop(v) for k, v in o.items() if k != "host_latency_ms"}
    if isinstance(o, list):
        return [drop(v) for v in o]
    return o
print(json.dumps(drop(json.load(sys.stdin)), sort_keys=True))' >"$js/eval.json"
    "$bin" drift -d "$ds" --reference batch:day1 --current batch:day2 --json >"$js/drift.json" ||
      true
    for m in "$top"/tests/data/tflite/*.tflite; do
      local name args=()
      name=$(basename "$m" .tflite)
      for f in "$top/tests/data/tflite/$name".in*.raw; do args+=(--raw-input "$f"); done
      "$bin" eval --model "$m" "${args[@]}" --dump-outputs >"$js/dump-$name.txt"
    done
  )
  mv "$out" "$2"
}
echo "running the steps ..."
run_steps "$work/build-base" "$work/out-base"
run_steps "$work/build-new" "$work/out-new"

status=0
cd "$work/out-base/snap"
while IFS= read -r -d '' f; do
  f=${f#./}
  case $f in */.lock | */.tmp/* | */.tmp) continue ;; esac
  if [ -d "$f" ]; then
    [ -d "$work/out-new/snap/$f" ] || { echo "different $f (missing)"; status=1; }
    continue
  fi
  if cmp -s "$f" "$work/out-new/snap/$f"; then
    case $f in */objects/*) objs_same=$(( ${objs_same:-0} + 1 )) ;; *) echo "identical $f" ;; esac
  else
    echo "different $f"
    status=1
  fi
done < <(find . -mindepth 1 -print0 | sort -z)
# Files only the new build made.
cd "$work/out-new/snap"
while IFS= read -r -d '' f; do
  f=${f#./}
  case $f in */.lock | */.tmp/* | */.tmp) continue ;; esac
  [ -e "$work/out-base/snap/$f" ] || { echo "different $f (only in the new build)"; status=1; }
done < <(find . -mindepth 1 -print0 | sort -z)
echo "identical objects: ${objs_same:-0} (object files are listed only when they differ)"
if [ $status -eq 0 ]; then echo "RESULT: identical"; else echo "RESULT: different"; fi
exit $status
