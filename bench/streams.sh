#!/bin/sh
# Many streams through one plugin, driven as dockerd drives it: memory at
# STREAMS (1000) active streams, the CPU of the same streams idle, FIFO to
# file and FIFO to docker logs -f latency, and CPU per line as one total
# rate is split across more streams (bench/streams.c says how each figure is
# measured).  About 3 minutes with the defaults; the knobs are environment
# variables listed in bench/streams.c.
#
#   bench/streams.sh BIN STREAMS_BIN DIR
set -eu
BIN=$1 STREAMS_BIN=$2 DIR=$3
# Each stream holds a FIFO and a log file open in this process and in the
# plugin; 1,000 streams need about 2,100 descriptors in each.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files: $(ulimit -n); user $(id -un); pipe-max-size $(cat /proc/sys/fs/pipe-max-size), pipe-user-pages-soft $(cat /proc/sys/fs/pipe-user-pages-soft)"
RATELOG_BIN=$BIN TMPDIR=$DIR exec "$STREAMS_BIN"
