#!/usr/bin/env bash
# The fault suite: kill -9 during ingest and replication, partitions, concurrent editors, hostile
# bytes, an evil peer, a full disk, fuzzing; prints a summary. `--only editors,partitions` runs some rounds.
#   scripts/torture.sh                  long run (50 kills each, 60 s of fuzzing per target)
#   scripts/torture.sh --kills 10 --fuzz-seconds 20     short run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
swift build -c release --static-swift-stdlib --product newsd 2>&1 | tail -1
swift build -c release --static-swift-stdlib --product newsctl 2>&1 | tail -1
swift build -c release --static-swift-stdlib --product evil-peer 2>&1 | tail -1
if [ "${NEWSD_SKIP_FUZZ_BUILD:-}" = "" ]; then
  (cd fuzz && swift build -c release --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -use-ld=lld 2>&1 | tail -1) \
    || echo "fuzz build failed; fuzzing skipped"
fi
# The folder-and-log model test at length (swift test runs 250 steps per seed).
if [ "${NEWSD_SKIP_MODEL:-}" = "" ]; then
  echo "folder-and-log model test, ${NEWSD_MODEL_STEPS:-3000} steps per seed"
  NEWSD_MODEL_STEPS=${NEWSD_MODEL_STEPS:-3000} swift test --filter FolderAndLogModelTests 2>&1 | tail -2 || echo "folder-and-log model test FAILED"
fi
exec python3 scripts/torture.py --bin "$(swift build -c release --static-swift-stdlib --show-bin-path)" --root "$root" "$@"
