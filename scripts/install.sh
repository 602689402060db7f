#!/usr/bin/env bash
# Installs newsd: release build, binaries, systemd unit, users and groups (sysusers), example
# config root:newsd 0640 (never overwriting one that exists), the unit's drop-in for the watched
# folder, shell completions, docs. Honours PREFIX (default /usr/local) and DESTDIR (a staging root
# for packages: nothing is run against the live system then).
#
#   scripts/install.sh                       build and install under /usr/local
#   DESTDIR=/tmp/x scripts/install.sh        lay the install out under /tmp/x
#   scripts/install.sh --binaries DIR        install newsd and newsctl from DIR instead of building
#                                            (built with --static-swift-stdlib: servers have no Swift)
#   scripts/install.sh --uninstall           remove what an install put in place (not config or data)
set -euo pipefail

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
root=$(cd "$(dirname "$0")/.." && pwd)
binaries=""
mode=install

while [ $# -gt 0 ]; do
  case "$1" in
    --binaries) binaries=$2; shift 2 ;;
    --uninstall) mode=uninstall; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

bin="$DESTDIR$PREFIX/bin"
unit="$DESTDIR/etc/systemd/system/newsd.service"
dropin="$DESTDIR/etc/systemd/system/newsd.service.d/50-folder.conf"
sysusers="$DESTDIR/etc/sysusers.d/newsd.conf"
config="$DESTDIR/etc/newsd/newsd.toml"
doc="$DESTDIR$PREFIX/share/doc/newsd"
bash_completions="$DESTDIR$PREFIX/share/bash-completion/completions"
zsh_completions="$DESTDIR$PREFIX/share/zsh/site-functions"
fish_completions="$DESTDIR$PREFIX/share/fish/vendor_completions.d"

if [ "$mode" = uninstall ]; then
  rm -fv "$bin/newsd" "$bin/newsctl" "$unit" "$dropin" "$sysusers" \
    "$bash_completions/newsd" "$bash_completions/newsctl" "$zsh_completions/_newsd" "$zsh_completions/_newsctl" \
    "$fish_completions/newsd.fish" "$fish_completions/newsctl.fish"
  rm -rfv "$doc"
  echo "left in place: $config and the data in /var/lib/newsd (remove them by hand if you mean to)"
  echo "then: systemctl daemon-reload"
  exit 0
fi

if [ -z "$binaries" ]; then
  # The Swift runtime is linked in: the installed binaries need no toolchain on the server.
  (cd "$root" && "$root/scripts/bootstrap.sh" \
    && swift build -c release --static-swift-stdlib --product newsd \
    && swift build -c release --static-swift-stdlib --product newsctl)
  binaries=$(cd "$root" && swift build -c release --static-swift-stdlib --show-bin-path)
fi
for program in newsd newsctl; do
  [ -x "$binaries/$program" ] || { echo "install.sh: $binaries/$program is missing; build first" >&2; exit 1; }
  # A binary that loads the Swift runtime runs only where a toolchain is installed: refuse it when
  # this machine lacks the runtime, or when staging for another machine.
  needed=$(ldd "$binaries/$program" 2>/dev/null | awk '/libswift|libFoundation|libdispatch|libBlocksRuntime/ { print $1 ($3 == "not" ? " (not found)" : "") }' | tr '\n' ' ')
  # (NEWSD_INSTALL_RUNTIME_CHECK=off stages a layout for inspection, as the repository's tests do.)
  if [ -n "$needed" ] && [ "${NEWSD_INSTALL_RUNTIME_CHECK:-on}" != off ] && { [ -n "$DESTDIR" ] || echo "$needed" | grep -q "not found"; }; then
    echo "install.sh: $binaries/$program needs the Swift runtime (${needed% }), which ${DESTDIR:+a server }${DESTDIR:-this machine }lacks;" >&2
    echo "  build it with the runtime linked in: swift build -c release --static-swift-stdlib" >&2
    exit 1
  fi
  # Any other library this machine lacks (SQLite, zstd on a minimal install).
  if [ -z "$DESTDIR" ] && ldd "$binaries/$program" 2>/dev/null | grep -q "not found"; then
    echo "install.sh: $binaries/$program needs libraries this machine lacks:" >&2
    ldd "$binaries/$program" | grep "not found" >&2
    echo "  apt-get install libsqlite3-0 libzstd1" >&2
    exit 1
  fi
done

install -d "$bin" "$doc" "$bash_completions" "$zsh_completions" "$fish_completions" "$(dirname "$unit")" "$(dirname "$dropin")" "$(dirname "$sysusers")" "$(dirname "$config")"
install -m 0755 "$binaries/newsd" "$binaries/newsctl" "$bin/"
sed "s|/usr/local/bin/newsd|$PREFIX/bin/newsd|g; s|/usr/local/share/doc|$PREFIX/share/doc|g" "$root/systemd/newsd.service" > "$unit"
chmod 0644 "$unit"
install -m 0644 "$root/systemd/newsd.sysusers" "$sysusers"
if [ -e "$config" ]; then
  install -m 0640 "$root/systemd/newsd.toml" "$config.example"
  echo "kept the existing $config; the new example is $config.example"
else
  install -m 0640 "$root/systemd/newsd.toml" "$config"
fi
install -m 0644 "$root/README.md" "$root/docs/"*.md "$doc/"
for program in newsd newsctl; do
  "$binaries/$program" --generate-completion-script bash > "$bash_completions/$program"
  "$binaries/$program" --generate-completion-script zsh > "$zsh_completions/_$program"
  "$binaries/$program" --generate-completion-script fish > "$fish_completions/$program.fish"
done

if [ -n "$DESTDIR" ]; then
  echo "staged newsd under $DESTDIR$PREFIX; the package's scripts create the users, chgrp the config and write $dropin"
  exit 0
fi
# The live system: users and groups first, so the config can belong to group newsd (the service
# reads it as newsd; editors' newsctl reads it to find the socket).
if command -v systemd-sysusers >/dev/null; then systemd-sysusers "$sysusers"; fi
getent group newsd >/dev/null || { echo "install.sh: group newsd is missing (no systemd-sysusers?); create user and group newsd" >&2; exit 1; }
chown root:newsd "$config"
chmod 0640 "$config"
[ -e "$config.example" ] && chown root:newsd "$config.example"
"$bin/newsd" check-config --quiet --config "$config" --unit-dropin "$dropin" || true
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "installed newsd under $PREFIX. Next: make the folder, edit $config (watch, peers), check it, start:"
echo "  newsd check-config --config $config --unit-dropin ${dropin#$DESTDIR} && systemctl daemon-reload"
echo "  systemctl enable --now newsd"
