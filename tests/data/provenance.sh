#!/usr/bin/env bash
# Checks (default) or rewrites (--update) the sha256 lines of tests/data/PROVENANCE: every file
# under tests/data but PROVENANCE itself and this script must be listed with its digest, and
# every listed file must exist with that digest. ctest runs the check.
set -euo pipefail
cd "$(dirname "$0")"
listed=$(mktemp)
trap 'rm -f "$listed"' EXIT
grep -E '^[0-9a-f]{64}  ' PROVENANCE | sort -k2 >"$listed" || true
actual=$(find . -type f ! -name PROVENANCE ! -name provenance.sh ! -path './*/__pycache__/*' \
           -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum | sort -k2)
if [ "${1:-}" = --update ]; then
  # keep the prose (lines that are not digests), then every file's digest
  grep -vE '^[0-9a-f]{64}  ' PROVENANCE >PROVENANCE.tmp || true
  printf '%s\n' "$actual" >>PROVENANCE.tmp
  mv PROVENANCE.tmp PROVENANCE
  exit 0
fi
if ! diff <(printf '%s\n' "$actual") "$listed" >/dev/null; then
  echo "tests/data/PROVENANCE does not match the files (< on disk, > listed):" >&2
  diff <(printf '%s\n' "$actual") "$listed" | grep '^[<>]' | head -20 >&2
  exit 1
fi
echo "tests/data: $(wc -l <"$listed") files match PROVENANCE"
