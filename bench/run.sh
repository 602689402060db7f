#!/usr/bin/env bash
# Runs every benchmark and writes docs/BENCHMARKS.md: the comparison (newsd beside rsync, unison,
# Syncthing, git and this machine's floors: bench/bench.py), the WAL under 10,000 small commits
# (bench/wal.py), and 3 and 10 sites as a full mesh and as a chain (bench/mesh.py). Release build;
# peers (rsync, git, unison, Syncthing) installed with apt-get when missing, and matplotlib with pip
# for the charts (left out, with a warning, if it cannot be installed); every server on 127.0.0.1,
# stopped at the end. Raw figures go to bench/results/; the doc is rendered from all of them.
#
# Measured on 2 cores from a fresh clone, the cold release build (~8 minutes) included where said:
#   bench/run.sh                 10k articles: about 17 minutes with the build (comparison ~6, WAL 0.5,
#                                meshes ~3)
#   bench/run.sh --size 1k       about 6 minutes without the build (comparison 2.5); CI's smoke: its
#                                figures go to bench/results/ but the doc is rewritten only with --write
#   bench/run.sh --size 100k     the scaling point: about 50 minutes with the build (first replication
#                                ~25, Syncthing the longest; the temp folder holds many copies
#                                of the 677 MB corpus)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
missing=()
command -v rsync >/dev/null || missing+=(rsync)
command -v git >/dev/null || missing+=(git)
command -v unison >/dev/null || missing+=(unison)
command -v syncthing >/dev/null || missing+=(syncthing)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if ! python3 -c 'import matplotlib' 2>/dev/null; then
  python3 -m pip install -q --user matplotlib 2>/dev/null || python3 -m pip install -q matplotlib 2>/dev/null \
    || echo "run.sh: matplotlib could not be installed; docs/BENCHMARKS.md will have no charts"
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
{ echo "Measured $(date +%F) ($(git rev-parse --short HEAD), release build, $(nproc) cores) by \`bench/run.sh\`:"
  echo "$wal"; } > "$root/bench/results/wal.txt"
# Many sites: one edit to every site, bytes and memory per site (bench/results/mesh-<shape>-<N>.json).
for shape in mesh chain; do
  for sites in 3 10; do
    python3 "$root/bench/mesh.py" --sites "$sites" --shape "$shape" --bin "$bin"
  done
done
# bench.py rewrote the doc (not a 1k smoke run): render it again with the WAL and mesh figures.
if [ "$(stat -c %Y "$doc" 2>/dev/null || echo 0)" != "$before" ]; then
  python3 "$root/bench/bench.py" --root "$root" --render-only
fi
