#!/usr/bin/env bash
# The fault suite: kill -9 during ingest and replication, hostile bytes, fuzzing; prints a summary.
#   scripts/torture.sh                  long run (50 kills each, 60 s of fuzzing per target)
#   scripts/torture.sh --kills 10 --fuzz-seconds 20     short run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
swift build -c release --static-swift-stdlib --product newsd 2>&1 | tail -1
swift build -c release --static-swift-stdlib --product newsctl 2>&1 | tail -1
if [ "${NEWSD_SKIP_FUZZ_BUILD:-}" = "" ]; then
  (cd fuzz && swift build -c release --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -use-ld=lld 2>&1 | tail -1) \
    || echo "fuzz build failed; fuzzing skipped"
fi
exec python3 scripts/torture.py --bin "$(swift build -c release --static-swift-stdlib --show-bin-path)" --root "$root" "$@"
