#!/usr/bin/env bash
# Installs the system libraries newsd builds against, where they are missing: SQLite and zstd
# headers. Debian/Ubuntu; uses sudo when not root. Safe to run again.
set -euo pipefail

missing=()
[ -f /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
[ -f /usr/include/zstd.h ] || missing+=(libzstd-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

command -v swift >/dev/null 2>&1 || { echo "swift is not on PATH: install Swift 6.x from swift.org" >&2; exit 1; }
