#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite: the unit, CLI and conformance
# tests (ctest, on the data in tests/data), then the same tests again under ASan + UBSan.
# Reads nothing outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

bash scripts/build.sh build
(cd build && ctest --output-on-failure -j2)

# Sanitizers: a debug build with -fsanitize=address,undefined -fno-sanitize-recover=all.
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DEDGESET_SANITIZE=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j2)
