#!/usr/bin/env bash
# Runs every benchmark (the comparison, then the WAL under 10,000 small commits) and writes
# docs/BENCHMARKS.md. Release build; peers (rsync, git) installed
# when missing; every server on 127.0.0.1, stopped at the end.
#
#   bench/run.sh                 10k articles (about 4 minutes on 2 cores)
#   bench/run.sh --size 1k       a quick run (CI's smoke; does not rewrite the doc unless --write)
#   bench/run.sh --size 100k     the scaling point (about half an hour)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
missing=()
command -v rsync >/dev/null || missing+=(rsync)
command -v git >/dev/null || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
# The build `scripts/install.sh` ships: release, Swift runtime linked in.
swift build -c release --static-swift-stdlib --product newsd 2>&1 | tail -1
swift build -c release --static-swift-stdlib --product newsctl 2>&1 | tail -1
swift build -c release --static-swift-stdlib --product evil-peer 2>&1 | tail -1
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
doc="$root/docs/BENCHMARKS.md"
before=$(stat -c %Y "$doc" 2>/dev/null || echo 0)
python3 "$root/bench/bench.py" --bin "$bin" --root "$root" "$@"
# Many small commits: the write-ahead log while a peer pushes 10,000 entries one at a time.
wal=$(python3 "$root/bench/wal.py" --bin "$bin")
echo "$wal"
if [ "$(stat -c %Y "$doc" 2>/dev/null || echo 0)" != "$before" ]; then
  { echo; echo "## Many small commits (\`bench/wal.py\`)"; echo '```'; echo "$wal"; echo '```'; } >> "$doc"
fi
