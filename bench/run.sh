#!/bin/sh
# Every benchmark, each printed beside a baseline measured in the same run
# (these machines are shared and noisy: the ratios are what count).
#
#   bench/run.sh [BUILD_DIR]        (make bench)
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
out=$B/bench
mkdir -p "$out"
libs=$(pkg-config --libs libevent libevent_pthreads jansson libprotobuf-c zlib)
cc -std=c11 -D_GNU_SOURCE -O2 -I. -I"$B/gen" -o "$out/bench_paths" \
	bench/bench_paths.c "$B/libratelog.a" $libs -lpthread
cc -std=c11 -D_GNU_SOURCE -O2 -o "$out/fifo_flood" bench/fifo_flood.c
cc -std=c11 -D_GNU_SOURCE -O2 -I. -I"$B/gen" -o "$out/streams" \
	bench/streams.c "$B/libratelog.a" $libs $(pkg-config --libs libcurl) \
	-lpthread
dir=${BENCH_DIR:-/tmp}
echo "== CPU per line: drop path vs write path"
"$out/bench_paths" "$dir"
echo "== ingest through the plugin vs dd"
# About 1 GB of json-file each: the end of a run is seen by polling the
# file's size every 5 ms, which was 5-10 % of a 0.15 s run of 2 M lines.
sh bench/ingest.sh "$B/ratelog" "$out/fifo_flood" "$dir" 6000000 100
sh bench/ingest.sh "$B/ratelog" "$out/fifo_flood" "$dir" 60000 16384
echo "== ReadLogs on a 1 GB log vs cat"
sh bench/readlogs.sh "$B/ratelog" "$out/fifo_flood" "$dir" 1000
echo "== many streams: memory, idle cost, latency, CPU per line by stream count"
RATELOG_BIN="$B/ratelog" TMPDIR="$dir" "$out/streams"
echo "== dockerd CPU per line and throughput: ratelog plugin vs json-file (real dockerd, root)"
sh bench/dockerd_cpu.sh "$B/ratelog" || [ $? -eq 77 ]
