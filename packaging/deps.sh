#!/bin/sh
# Install the Debian packages that ratelog needs and that are missing.
#
#   packaging/deps.sh [build|test]      (default: build)
#
# build: compiler, make, pkg-config and the libraries the program links.
# test:  build, plus cmocka and libcurl (unit and integration tiers), clang
#        with libFuzzer (fuzz), valgrind, and a real Docker engine with a
#        local registry and a static busybox (end to end, see
#        tests/e2e/run.sh).
#
# Nothing is touched when every package is already installed: the check is
# dpkg-query, so a machine without network access passes as long as it is
# complete.  Otherwise "apt-get update" runs once, then one
# "apt-get install" of what is missing.  Installing needs root; as another
# user the script uses sudo when there is one and says so.
#
# Recommends are installed on purpose: docker.io recommends apparmor and
# cgroupfs-mount, and dockerd needs apparmor_parser on kernels with AppArmor
# enabled.  Services the packages ship are not started by this script;
# tests/e2e/run.sh starts containerd and dockerd itself.
set -eu

build_pkgs="gcc make pkg-config libevent-dev libjansson-dev \
libprotobuf-c-dev protobuf-c-compiler zlib1g-dev"
test_pkgs="libcmocka-dev libcurl4-openssl-dev clang libclang-rt-14-dev \
valgrind docker.io containerd runc docker-registry busybox-static"

usage() {
	echo "usage: $0 [build|test]" >&2
	exit 2
}

[ $# -le 1 ] || usage
case ${1:-build} in
build) want=$build_pkgs ;;
test) want="$build_pkgs $test_pkgs" ;;
*) usage ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 ||
	! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: dpkg-query/apt-get not found; this script knows" \
		"Debian only. Install by hand: $want" >&2
	exit 1
fi

missing=
for pkg in $want; do
	# "install ok installed" when present; "deinstall ok config-files"
	# and friends, or no record at all, mean it has to be installed.
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
	case $status in
	*" ok installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps.sh: all ${1:-build} packages are installed"
	exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		echo "deps.sh: not root, using sudo to install:$missing"
		sudo="sudo"
	else
		echo "deps.sh: missing packages:$missing" >&2
		echo "deps.sh: run this as root (no sudo found)" >&2
		exit 1
	fi
fi

echo "deps.sh: installing:$missing"
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	$missing

# apt-get can exit 0 and still leave a package unconfigured; check again.
left=
for pkg in $missing; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
	case $status in
	*" ok installed") ;;
	*) left="$left $pkg" ;;
	esac
done
if [ -n "$left" ]; then
	echo "deps.sh: still not installed:$left" >&2
	exit 1
fi
echo "deps.sh: done"
