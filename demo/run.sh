#!/usr/bin/env bash
# The end-to-end demo on the embedded default data: installs what is needed, builds, turns
# Fashion-MNIST test images into two days of simulated camera uploads, and runs every stage on
# them: collect, label, balance, split, augment, eval (the reference int8 model), drift.
# Reports go to demo-out/reports (or $1/reports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
out=$(realpath -m "${1:-demo-out}")
rm -rf "$out"
mkdir -p "$out/reports"
edgeset=$PWD/build/bin/edgeset
model=$PWD/models/fashion_mnist_int8.tflite
labels=$PWD/models/labels.txt
ds=$out/dataset
step() { printf '\n== %s\n' "$*"; }

step "simulated captures: Fashion-MNIST test images, four cameras, two days"
/usr/bin/python3 demo/make_captures.py "$out/captures"
echo "$(find "$out/captures" -type f | wc -l) files in $out/captures: bursts, retried uploads, sidecars,"
echo "a cut-off upload, an empty file, a GIF preview, a text note; on day 2 cam03's exposure"
echo "drops and cam04 loses focus"
cd "$out/captures"   # paths in the dataset (and in labels.csv) are relative to this folder

# The captures are 28x28 pictures scaled up to 84x84: the detail of a 28x28 picture, which the
# relation's thresholds (set by pixel size, docs/near-duplicates.md) do not see, so a tighter
# candidate radius than the default.
for day in day1 day2; do
  step "edgeset collect --batch $day"
  "$edgeset" collect -d "$ds" --near 6 --batch "$day" --device-from dir:1 "$day"
done

step "edgeset label --from csv:labels.csv, then --balance"
"$edgeset" label -d "$ds" --from csv:labels.csv --labels "$labels"
"$edgeset" label -d "$ds" --balance --report "$out/reports/balance.html" | tail -3

step "edgeset split --ratios 60:10:30 (clusters kept whole, stratified by label), then --verify"
"$edgeset" split -d "$ds" --ratios 60:10:30 --seed 1 | head -2
"$edgeset" split -d "$ds" --verify

step "edgeset augment: two variants of every training image"
"$edgeset" augment -d "$ds" --per-image 2 --ops 'hflip@0.5,rotate:10,bright:0.15' --seed 1 \
  --preview "$out/reports/augment.html"

step "edgeset eval: the reference int8 model on the held-out test split"
# The test split holds 30% of both days, cam03's dark and cam04's blurred day-2 frames too: the
# model scores about 0.78 there (91.4% on the clean test images), so the gate is 0.75.
"$edgeset" eval -d "$ds" --model "$model" --split test --preprocess resize=stretch,channels=gray \
  --min-accuracy 0.75 --report "$out/reports/eval.html" >"$out/reports/eval.txt"
head -1 "$out/reports/eval.txt"
tail -1 "$out/reports/eval.txt"

step "edgeset drift: does day 2 still look like day 1? (exit 1 = it does not)"
set +e
"$edgeset" drift -d "$ds" --reference batch:day1 --current batch:day2 \
  --report "$out/reports/drift.html"
echo "(exit status $?)"
set -e

step "reports"
ls -1 "$out/reports"/*.html | sed 's/^/  /'
echo "dataset: $ds"
