#!/bin/sh
# Ingest: N frames of L-byte lines pushed into a FIFO as fast as the plugin
# takes them (no rate limit), until all are json-file lines on disk, beside
# dd bs=1M writing the same number of bytes to the same filesystem in the
# same run.  Prints lines/s, MB/s, the plugin's CPU per line, and the ratio
# to dd (issue 7 wants >= 0.5).
#
#   bench/ingest.sh BIN FLOOD DIR N L
set -eu
BIN=$1 FLOOD=$2 DIR=$3 N=$4 L=$5
d=$DIR/ingest.$$
rm -rf "$d"
mkdir -p "$d/fifo" "$d/logs"
"$BIN" serve --socket "$d/s.sock" --log-root "$d/logs" --fifo-dir "$d/fifo" \
	--log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$d"' EXIT
i=0
while [ ! -S "$d/s.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
cid=$(printf '%064d' 0 | tr 0 e)
fifo=$d/fifo/$cid
mkfifo "$fifo"
exec 9<>"$fifo"
curl -sf --unix-socket "$d/s.sock" -o /dev/null \
	-d "{\"File\":\"$fifo\",\"Info\":{\"ContainerID\":\"$cid\",\"Config\":{\"rate-limit\":\"0\",\"max-size\":\"100g\"}}}" \
	http://plugin/LogDriver.StartLogging
f=$d/logs/$cid/$cid-json.log
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
c0=$(ticks)
t0=$(date +%s%N)
"$FLOOD" "$fifo" "$N" "$L"
curl -sf --unix-socket "$d/s.sock" -o /dev/null -d "{\"File\":\"$fifo\"}" \
	http://plugin/LogDriver.StopLogging
exec 9>&-
while [ "$(wc -l <"$f" 2>/dev/null || echo 0)" -lt "$N" ]; do sleep 0.01; done
t1=$(date +%s%N)
c1=$(ticks)
bytes=$(stat -c %s "$f")
rm -f "$f"
sync
mb=$((bytes / 1048576 + 1))
d0=$(date +%s%N)
dd if=/dev/zero of="$d/dd" bs=1M count=$mb 2>/dev/null
d1=$(date +%s%N)
hz=$(getconf CLK_TCK)
awk -v n="$N" -v l="$L" -v b="$bytes" -v t="$((t1 - t0))" \
	-v dt="$((d1 - d0))" -v mb="$mb" -v cpu="$((c1 - c0))" -v hz="$hz" 'BEGIN {
	s = t / 1e9; ds = dt / 1e9
	printf "ingest %d-byte lines: %d lines in %.2f s = %.0f lines/s, %.0f MB/s on disk, plugin CPU %.0f ns/line\n", l, n, s, n / s, b / s / 1e6, cpu / hz * 1e9 / n
	printf "dd bs=1M, same filesystem: %.0f MB/s; ratio ratelog/dd = %.2f\n", mb * 1048576 / ds / 1e6, (b / s) / (mb * 1048576 / ds)
}'
