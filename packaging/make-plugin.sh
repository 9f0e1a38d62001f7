#!/bin/sh
# Build the managed plugin from a ratelog binary, offline.
#
#   packaging/make-plugin.sh BIN NAME[:TAG] DIR
#
# Fills DIR (emptied first) with config.json (packaging/config.json) and a
# rootfs holding
#   /usr/bin/ratelog          the binary
#   every library "ldd BIN" lists, and the loader, at the same paths
#   /run/docker/plugins       dockerd bind-mounts the socket directory here
#   /run/docker/logging       dockerd creates its FIFOs here (it would mkdir
#                             it too; shipping it keeps /run a real
#                             directory, see protocol doc section 3.1)
#   /var/log/ratelog          mount point of the host log directory
#   /tmp
#   /etc/ratelog-plugin       the plugin name, build time and the binary's
#                             sha256: says which build a plugin holds, and
#                             makes every rootfs layer unique (dockerd's
#                             plugin store refuses a layer it already has,
#                             "content sha256:...: already exists", which
#                             otherwise happens when two plugins are made
#                             from the same binary within a second)
# and then replaces any plugin called NAME ("docker plugin rm -f") with a
# new one made by "docker plugin create NAME DIR".  The plugin is created
# disabled; packaging/enable.sh enables it, or push it to a registry and
# "docker plugin install" it elsewhere.
#
# No base image and no network: a dynamically linked binary works with just
# its libraries (protocol doc section 14).  The docker client is
# $DOCKER, by default /usr/bin/docker when it exists.
set -eu

usage() {
	echo "usage: $0 BIN NAME[:TAG] DIR" >&2
	exit 2
}

[ $# -eq 3 ] || usage
bin=$1
name=$2
dir=$3
here=$(cd "$(dirname "$0")" && pwd)

if [ -z "${DOCKER:-}" ]; then
	if [ -x /usr/bin/docker ]; then
		DOCKER=/usr/bin/docker
	else
		DOCKER=docker
	fi
fi

die() {
	echo "make-plugin.sh: $*" >&2
	exit 1
}

if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
	die "$bin: not an executable file"
fi
case $dir in
"" | / | /*/.. | /*/../*) die "refusing to use '$dir' as the plugin directory" ;;
esac

# The library list comes first, so a binary that does not load on this host
# fails before anything is deleted.
libs=$(mktemp)
trap 'rm -f "$libs"' EXIT
if ! ldd_out=$(LC_ALL=C ldd "$bin" 2>&1); then
	case $ldd_out in
	*"not a dynamic executable"* | *"statically linked"*) ldd_out= ;;
	*) die "ldd $bin failed: $ldd_out" ;;
	esac
fi
case $ldd_out in
*"not found"*) die "$bin needs libraries this host lacks:
$ldd_out" ;;
esac
# Lines are "name => /path (0x...)", "/path (0x...)" for the loader, or
# "linux-vdso.so.1 (0x...)" for the kernel's vDSO, which has no file.
printf '%s\n' "$ldd_out" | sed -n \
	-e 's|^[[:space:]]*[^[:space:]]* => \(/[^[:space:]]*\) (0x[0-9a-f]*)$|\1|p' \
	-e 's|^[[:space:]]*\(/[^[:space:]]*\) (0x[0-9a-f]*)$|\1|p' >"$libs"
if [ -n "$ldd_out" ] && ! grep -q . "$libs"; then
	die "could not read ldd output for $bin:
$ldd_out"
fi

rm -rf "$dir"
rootfs=$dir/rootfs
mkdir -p "$rootfs/usr/bin" "$rootfs/run/docker/plugins" \
	"$rootfs/var/log/ratelog" "$rootfs/tmp" "$rootfs/etc"
mkdir -m 0700 "$rootfs/run/docker/logging"
chmod 1777 "$rootfs/tmp"
cp "$here/config.json" "$dir/config.json"
cp "$bin" "$rootfs/usr/bin/ratelog"
chmod 0755 "$rootfs/usr/bin/ratelog"
{
	echo "name=$name"
	echo "built=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
	echo "sha256=$(sha256sum "$bin" | cut -d' ' -f1)"
} >"$rootfs/etc/ratelog-plugin"

# Copy each library's content (cp -L) to the path ldd printed, which is the
# path the loader found it at.  /lib may be a symlink to /usr/lib on the
# host (merged /usr); in the rootfs it becomes a real directory, which the
# loader searches all the same.
while IFS= read -r lib; do
	mkdir -p "$rootfs$(dirname "$lib")"
	cp -L "$lib" "$rootfs$lib"
done <"$libs"

# docker plugin create refuses a name that is taken, so replace it.
if "$DOCKER" plugin inspect "$name" >/dev/null 2>&1; then
	echo "make-plugin.sh: removing the existing plugin $name"
	"$DOCKER" plugin rm -f "$name" >/dev/null
fi
"$DOCKER" plugin create "$name" "$dir"
echo "make-plugin.sh: created $name (disabled) from $bin" \
	"with $(wc -l <"$libs") libraries"
