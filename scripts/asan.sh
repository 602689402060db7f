#!/usr/bin/env bash
# newsd under AddressSanitizer: a debug build with -sanitize=address in .build-asan, then
#   1. the end-to-end tests run against the ASan binaries (NEWSD_BIN_DIR),
#   2. a start-up scan and two restart scans of a generated corpus (default 100,000 articles),
#   3. the torture run's short form against the ASan binaries.
# Any ASan report aborts the process that made it, which fails the step that ran it.
#   scripts/asan.sh                 all three, 100k scan
#   scripts/asan.sh --size 10000    a smaller scan
#   scripts/asan.sh --skip-torture
#   scripts/asan.sh --skip-e2e
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
size=100000
torture=yes
e2e=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --skip-torture) torture=no; shift ;;
    --skip-e2e) e2e=no; shift ;;
    *) echo "usage: scripts/asan.sh [--size N] [--skip-torture] [--skip-e2e]" >&2; exit 64 ;;
  esac
done
scripts/bootstrap.sh
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
scratch=.build-asan
swift build --build-tests --scratch-path "$scratch" -Xswiftc -sanitize=address 2>&1 | tail -1
bin=$(swift build --scratch-path "$scratch" -Xswiftc -sanitize=address --show-bin-path)

if [ "$e2e" = yes ]; then
  echo "== end-to-end tests under ASan"
  NEWSD_BIN_DIR="$bin" swift test --skip-build --scratch-path "$scratch" -Xswiftc -sanitize=address --filter EndToEndTests
fi

echo "== scans of $size articles under ASan"
work=$(mktemp -d /tmp/newsd-asan-XXXXXX)
trap 'pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 ../shared/corpus/gen_corpus.py --n "$size" --seed 1 --out "$work/corpus" --jobs 2 >/dev/null
for pass in first restart restart-again; do
  "$bin/newsd" run --data "$work/data" --watch "$work/corpus/seeds" --listen 127.0.0.1:0 --log-level warning &
  pid=$!
  for _ in $(seq 1 3600); do
    if "$bin/newsctl" status --json --control "$work/data/newsd.sock" 2>/dev/null | grep -q '"ready" *: *true'; then break; fi
    kill -0 "$pid" 2>/dev/null || { echo "newsd died during the $pass scan" >&2; exit 1; }
    sleep 1
  done
  "$bin/newsctl" verify --control "$work/data/newsd.sock" >/dev/null
  kill -TERM "$pid"
  wait "$pid" || { echo "newsd exited badly after the $pass scan" >&2; exit 1; }
  echo "$pass scan: clean"
done

if [ "$torture" = yes ]; then
  echo "== torture (short form) under ASan"
  python3 scripts/torture.py --bin "$bin" --root "$root" --kills 5 --partitions 3 --flood 200 --editor-rounds 1 --editor-seconds 20 --fuzz-seconds 0
fi
echo "ASan: clean"
