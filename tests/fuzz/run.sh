#!/bin/sh
# Build and run every libFuzzer target.
#
#   tests/fuzz/run.sh SECONDS
#
# Each tests/fuzz/fuzz_<name>.c is built with clang into build-fuzz/ (or
# $FUZZ_B) against the project's library sources, all compiled with ASan and
# UBSan, and then run for SECONDS from a temporary copy of its seed corpus
# tests/fuzz/corpus/<name>/ (the repository is never written to), with
# tests/fuzz/<name>.dict as a dictionary when it exists.  Exits non-zero if a
# target does not build or finds a crash, leak, timeout or sanitizer report;
# the reproducer is left in build-fuzz/artifacts/<name>/ and its path printed.
set -eu

usage() {
	echo "usage: $0 SECONDS" >&2
	exit 2
}
[ $# -eq 1 ] || usage
secs=$1
case $secs in
'' | *[!0-9]*) usage ;;
esac

cd "$(dirname "$0")/../.."
B=${FUZZ_B:-build-fuzz}
case $B in
/*) ;;
*) B="$(pwd)/$B" ;; # so the printed reproducer paths work from anywhere
esac
CC=${FUZZ_CC:-clang}
PKGS="libevent libevent_pthreads jansson libprotobuf-c zlib"

# shellcheck disable=SC2086
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
-fsanitize=address,undefined -fno-sanitize-recover=all -pthread \
-I. -I$B/gen $(pkg-config --cflags $PKGS)"
# shellcheck disable=SC2086
LIBS="$(pkg-config --libs $PKGS) -pthread"

rm -rf "$B/obj" "$B/gen"
mkdir -p "$B/obj" "$B/gen" "$B/artifacts"
protoc-c --c_out="$B/gen" -Iplugin/proto plugin/proto/entry.proto

# Every library source (the Makefile's LIB_SRCS) goes into one archive, so
# each target links only what it uses.
objs=
for src in plugin/*.c common/*.c store/*.c config/*.c ratelimit/*.c \
	"$B/gen/entry.pb-c.c"; do
	[ -f "$src" ] || continue # a glob that matched nothing
	[ "$src" != plugin/main.c ] || continue
	obj="$B/obj/$(echo "$src" | tr / _).o"
	# shellcheck disable=SC2086
	$CC $CFLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
	objs="$objs $obj"
done
rm -f "$B/libratelog-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$B/libratelog-fuzz.a" $objs

targets=
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	t=$(basename "$src" .c)
	# shellcheck disable=SC2086
	$CC $CFLAGS -fsanitize=fuzzer -o "$B/$t" "$src" \
		"$B/libratelog-fuzz.a" $LIBS
	targets="$targets $t"
done
if [ -z "$targets" ]; then
	echo "fuzz: no tests/fuzz/fuzz_*.c targets" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
failed=0
for t in $targets; do
	name=${t#fuzz_}
	corpus="$work/$name"
	art="$B/artifacts/$name"
	log="$B/$t.log"
	rm -rf "$art"
	mkdir -p "$corpus" "$art"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -R "tests/fuzz/corpus/$name/." "$corpus/"
	fi
	set -- -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$art/"
	if [ -f "tests/fuzz/$name.dict" ]; then
		set -- "$@" -dict="tests/fuzz/$name.dict"
	fi
	echo "fuzz: $t for ${secs}s ($(find "$corpus" -type f | wc -l) seeds)"
	if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$B/$t" "$@" "$corpus" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz: $t: ok, ${runs:-?} runs"
	else
		failed=1
		tail -n 40 "$log" >&2
		echo "fuzz: $t: FAILED (full log $log)" >&2
		for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* \
			"$art"/oom-*; do
			[ -f "$f" ] || continue
			echo "fuzz: reproducer: $f (run: $B/$t $f)" >&2
		done
	fi
done
exit $failed
