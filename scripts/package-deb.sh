#!/usr/bin/env bash
# Builds newsd_<version>_amd64.deb: release binaries with the Swift runtime linked in (stripped),
# the unit in /usr/lib/systemd/system, users and groups (sysusers), the config as a conffile, shell
# completions, man pages (swift-argument-parser's generate-manual plugin) and the docs. The
# maintainer scripts create the users, give the config to group newsd, write the unit's drop-in
# for the watched folder, reload systemd, restart a running newsd on upgrade, stop it on removal,
# and never start a service that was not running: the config must be edited first.
#
#   scripts/package-deb.sh                 build, package, run lintian; prints the .deb's path last
#   scripts/package-deb.sh --bin DIR       package binaries already built with --static-swift-stdlib
#   OUT=DIR scripts/package-deb.sh         where the .deb goes (default: the repository)
#
# lintian tags left, and why (each is overridden in the package with this reason):
#   - maintainer-script-calls-systemctl: the scripts call systemctl only where debhelper's
#     deb-systemd-invoke would, guarded by /run/systemd/system; this package is built without debhelper.
#   - non-standard-file-perm on /etc/newsd/newsd.toml: 0640, group newsd (set by postinst).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-$root}
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "package-deb.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v dpkg-deb >/dev/null || { echo "package-deb.sh: dpkg-deb is missing (Debian's dpkg)" >&2; exit 1; }
scratch="$root/.build-release"
if [ -z "$bin" ]; then
  scripts/bootstrap.sh
  for product in newsd newsctl; do
    swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$product" 2>&1 | tail -1
  done
  bin=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)
fi
version=$("$bin/newsd" --version)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d "${TMPDIR:-/tmp}/newsd-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/newsd_${version}_$arch"

# Files.
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/systemd/system" "$pkg/usr/lib/sysusers.d" "$pkg/etc/newsd" \
  "$pkg/usr/share/doc/newsd" "$pkg/usr/share/man/man1" "$pkg/usr/share/bash-completion/completions" \
  "$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d" "$pkg/usr/share/lintian/overrides"
for program in newsd newsctl; do
  ldd "$bin/$program" | grep -q libswiftCore && { echo "package-deb.sh: $bin/$program loads the Swift runtime; build with --static-swift-stdlib" >&2; exit 1; }
  install -m 0755 "$bin/$program" "$pkg/usr/bin/$program"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/$program"
  # bash completions are sourced, not run: no #! line.
  "$bin/$program" --generate-completion-script bash | sed '1{/^#!/d}' > "$pkg/usr/share/bash-completion/completions/$program"
  "$bin/$program" --generate-completion-script zsh > "$pkg/usr/share/zsh/vendor-completions/_$program"
  "$bin/$program" --generate-completion-script fish > "$pkg/usr/share/fish/vendor_completions.d/$program.fish"
done
sed 's|/usr/local/bin/newsd|/usr/bin/newsd|g; s|/usr/local/share/doc|/usr/share/doc|g' systemd/newsd.service > "$pkg/usr/lib/systemd/system/newsd.service"
install -m 0644 systemd/newsd.sysusers "$pkg/usr/lib/sysusers.d/newsd.conf"
install -m 0640 systemd/newsd.toml "$pkg/etc/newsd/newsd.toml"
install -m 0644 README.md docs/*.md "$pkg/usr/share/doc/newsd/"
chmod 0644 "$pkg"/usr/lib/systemd/system/newsd.service "$pkg"/usr/share/*/*completions*/* "$pkg"/usr/share/fish/vendor_completions.d/*

# Man pages from the commands' own help, by swift-argument-parser's generate-manual tool (what its
# plugin runs; the plugin itself would rebuild the products without the runtime linked in).
parser=""
for checkouts in "$scratch/checkouts" "$root/.build/checkouts"; do
  [ -f "$checkouts/swift-argument-parser/Package.swift" ] && { parser="$checkouts/swift-argument-parser"; break; }
done
[ -n "$parser" ] || { echo "package-deb.sh: no swift-argument-parser checkout (build once first)" >&2; exit 1; }
tool_scratch="$root/.build-manual"
swift build --package-path "$parser" --scratch-path "$tool_scratch" --product generate-manual >/dev/null 2>&1 \
  || { echo "package-deb.sh: building generate-manual failed" >&2; exit 1; }
manuals="$stage/man"
mkdir -p "$manuals"
for program in newsd newsctl; do
  "$tool_scratch/debug/generate-manual" "$bin/$program" --output-directory "$manuals" \
    --authors "newsd maintainers<packages@newsd.example.org>" >/dev/null
done
find "$manuals" -name '*.1' | while read -r page; do gzip -9n < "$page" > "$pkg/usr/share/man/man1/$(basename "$page").gz"; done
ls "$pkg/usr/share/man/man1/newsd.1.gz" "$pkg/usr/share/man/man1/newsctl.1.gz" >/dev/null

cat > "$pkg/usr/share/doc/newsd/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: newsd
Source: the newsd repository

Files: *
Copyright: $(date +%Y) the newsd authors
License: proprietary
 Licensed to the newsroom that received this package; not for redistribution.
EOF
printf 'newsd (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- newsd maintainers <packages@newsd.example.org>  %s\n' \
  "$version" "$version" "$(date -R)" | gzip -9n > "$pkg/usr/share/doc/newsd/changelog.gz"
cat > "$pkg/usr/share/lintian/overrides/newsd" <<'EOF'
# The maintainer scripts call systemctl only when systemd runs (/run/systemd/system), as
# deb-systemd-invoke would; the package is built without debhelper.
newsd: maintainer-script-calls-systemctl *
# 0640 root:newsd (postinst sets the group): editors in group newsd read it to find the socket.
newsd: non-standard-file-perm 0640 != 0644 [etc/newsd/newsd.toml]
EOF
chmod 0644 "$pkg/usr/share/doc/newsd/"* "$pkg/usr/share/lintian/overrides/newsd"

# Metadata and maintainer scripts.
echo "/etc/newsd/newsd.toml" > "$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<EOF
Package: newsd
Version: $version
Architecture: $arch
Maintainer: newsd maintainers <packages@newsd.example.org>
Installed-Size: $size
Depends: libc6 (>= 2.34), libsqlite3-0 (>= 3.35), libzstd1, libstdc++6, libgcc-s1, systemd (>= 247)
Section: net
Priority: optional
Homepage: https://newsd.invalid/
Description: versioned, replicated folder of newsroom articles
 newsd watches a folder of articles, appends every version of every article
 to an append-only SQLite log, and replicates it to the newsroom's other
 sites over an authenticated protocol. newsctl asks it for status, history,
 diffs, conflicts and restores.
EOF
cat > "$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    systemd-sysusers /usr/lib/sysusers.d/newsd.conf
    # The service reads the config as newsd; editors' newsctl reads it to find the socket.
    if [ -e /etc/newsd/newsd.toml ]; then
        chown root:newsd /etc/newsd/newsd.toml
        chmod 0640 /etc/newsd/newsd.toml
    fi
    mkdir -p /etc/systemd/system/newsd.service.d
    newsd check-config --quiet --config /etc/newsd/newsd.toml \
        --unit-dropin /etc/systemd/system/newsd.service.d/50-folder.conf >/dev/null 2>&1 || true
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
        # An upgrade restarts a running newsd; a first install starts nothing (edit the config first).
        if [ -n "$2" ]; then
            systemctl try-restart newsd.service || echo "newsd: the restart after the upgrade failed; see journalctl -u newsd" >&2
        fi
    fi
    if [ -z "$2" ]; then
        echo "newsd installed. Edit /etc/newsd/newsd.toml (watch, peers), then:"
        echo "  newsd check-config --config /etc/newsd/newsd.toml --unit-dropin /etc/systemd/system/newsd.service.d/50-folder.conf"
        echo "  systemctl daemon-reload && systemctl enable --now newsd"
    fi
fi
EOF
cat > "$pkg/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
# Stopped, not disabled: a reinstall keeps the site's choice (purge drops the link).
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl stop newsd.service >/dev/null 2>&1 || true
fi
EOF
cat > "$pkg/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    rm -f /etc/systemd/system/newsd.service.d/50-folder.conf /etc/systemd/system/multi-user.target.wants/newsd.service
    rmdir /etc/systemd/system/newsd.service.d 2>/dev/null || true
    # The log of every article's versions is never removed by a package tool.
    if [ -d /var/lib/newsd ]; then echo "newsd: the log in /var/lib/newsd is kept; remove it by hand if you mean to"; fi
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOF
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

deb="$out/newsd_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
if command -v lintian >/dev/null; then
  lintian --tag-display-limit 0 "$deb" || { echo "package-deb.sh: lintian found errors (above)" >&2; exit 1; }
fi
echo "$deb"
