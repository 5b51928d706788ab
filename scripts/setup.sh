#!/usr/bin/env bash
# Installs the Debian packages edgeset needs. Idempotent: packages already present are not
# fetched again. Run as root (or with sudo available).
#   scripts/setup.sh           build, test suite and demo
#   scripts/setup.sh bench     ... and what the benchmarks compare against (bench/run)
#   scripts/setup.sh models    ... and what regenerates the reference model (models/train.sh)
#   scripts/setup.sh fuzz      ... and clang with libFuzzer and the sanitizers (scripts/fuzz.sh)
#   scripts/setup.sh scale     ... and a one-node Slurm cluster with munge (scripts/slurm-check.sh)
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libpng-dev libjpeg62-turbo-dev libjansson-dev libxxhash-dev libcriterion-dev zlib1g-dev
  libjpeg-turbo-progs netpbm               # djpeg, cjpeg, pngtopnm: second decoders and fixtures
  python3 python3-numpy python3-pil        # demo captures and test fixtures
  python3-scipy                            # drift statistics checked against SciPy
  chromium                                 # HTML reports opened headless in the tests
  dataset-fashion-mnist                    # the embedded default data (demo, reference model)
  parallel                                 # GNU Parallel: sharded collect test (docs/scale-out.md)
)
for profile in "$@"; do
  case "$profile" in
    bench) packages+=(python3-skimage python3-sklearn python3-opencv    # real photos, baselines
                      python-matplotlib-data opencv-doc plasma-workspace-wallpapers mate-backgrounds
                      lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 lxqt-themes) ;;  # bench/near_truth.py photos
    models) packages+=(python3-torch python3-pyarmnn) ;;                  # training, Arm NN check
    fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev llvm-14) ;;   # scripts/fuzz.sh: libFuzzer, ASan/UBSan, OpenMP, symbolizer
    scale) packages+=(slurm-wlm slurm-client munge) ;;                    # scripts/slurm-check.sh: slurmctld, slurmd, sbatch, munged
    *) echo "setup.sh: unknown profile '$profile' (expected bench, models, fuzz or scale)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
