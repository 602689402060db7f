#!/usr/bin/env bash
# Installs newsd: release build, binaries, systemd unit, sysusers file, example config (never
# overwriting one that exists), shell completions, docs. Honours PREFIX (default /usr/local) and
# DESTDIR (staging root, for packages and tests).
#
#   scripts/install.sh                       build and install under /usr/local
#   DESTDIR=/tmp/x scripts/install.sh        lay the install out under /tmp/x
#   scripts/install.sh --binaries DIR        install newsd and newsctl from DIR instead of building
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
sysusers="$DESTDIR/etc/sysusers.d/newsd.conf"
config="$DESTDIR/etc/newsd/newsd.toml"
doc="$DESTDIR$PREFIX/share/doc/newsd"
bash_completions="$DESTDIR$PREFIX/share/bash-completion/completions"
zsh_completions="$DESTDIR$PREFIX/share/zsh/site-functions"
fish_completions="$DESTDIR$PREFIX/share/fish/vendor_completions.d"

if [ "$mode" = uninstall ]; then
  rm -fv "$bin/newsd" "$bin/newsctl" "$unit" "$sysusers" \
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
done

install -d "$bin" "$doc" "$bash_completions" "$zsh_completions" "$fish_completions" "$(dirname "$unit")" "$(dirname "$sysusers")" "$(dirname "$config")"
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

echo "installed newsd under ${DESTDIR:-}$PREFIX; edit /etc/newsd/newsd.toml (watch, peers), then:"
echo "  systemd-sysusers"
echo "  systemctl daemon-reload"
echo "  systemctl enable --now newsd"
