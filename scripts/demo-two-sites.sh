#!/usr/bin/env bash
# Two sites on this machine, from a fresh clone: build, start Hanoi and Da Nang on loopback with
# their own folders, edit an article at Hanoi, show what Da Nang sees, stop both, clean up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
swift build 2>&1 | tail -1
bin=$(swift build --show-bin-path)
work=$(mktemp -d /tmp/newsd-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hanoi_port=$(port); danang_port=$(port)
mkdir -p "$work/hanoi/articles" "$work/danang/articles"
cp seeds/* "$work/hanoi/articles/"
hanoi_id=$("$bin/newsd" init --data "$work/hanoi/data" | tail -1)
danang_id=$("$bin/newsd" init --data "$work/danang/data" | tail -1)
echo "== Hanoi is $hanoi_id on :$hanoi_port, Da Nang is $danang_id on :$danang_port"

"$bin/newsd" --data "$work/hanoi/data" --watch "$work/hanoi/articles" --site-name hanoi \
  --listen "127.0.0.1:$hanoi_port" --peer "$danang_id@127.0.0.1:$danang_port" 2> "$work/hanoi.log" &
pids+=($!)
"$bin/newsd" --data "$work/danang/data" --watch "$work/danang/articles" --site-name danang \
  --listen "127.0.0.1:$danang_port" --peer "$hanoi_id@127.0.0.1:$hanoi_port" 2> "$work/danang.log" &
pids+=($!)

wait_for() { # seconds, then a command that must succeed
  local limit=$1; shift
  for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out: $*" >&2; return 1
}
article=000_15b2be1134f67c00.txt
wait_for 30 cmp "$work/hanoi/articles/$article" "$work/danang/articles/$article"
echo "== the seeds reached Da Nang"

printf '\nBiên tập viên ở Hà Nội thêm đoạn này lúc %s.\n' "$(date +%H:%M:%S)" >> "$work/hanoi/articles/$article"
echo "== edited $article at Hanoi"
wait_for 10 cmp "$work/hanoi/articles/$article" "$work/danang/articles/$article"
echo "== the edit is in Da Nang's folder"

echo; echo "\$ newsctl status   (at Da Nang)"
"$bin/newsctl" status --data "$work/danang/data"
echo; echo "\$ newsctl peers    (at Da Nang)"
"$bin/newsctl" peers --data "$work/danang/data"
echo; echo "\$ newsctl diff $article    (at Da Nang)"
"$bin/newsctl" diff "$article" --data "$work/danang/data" | tail -n 6
echo; echo "\$ newsctl verify   (at Da Nang)"
"$bin/newsctl" verify --data "$work/danang/data"
echo; echo "== stopping both sites"
