#!/bin/sh
# ReadLogs on a large log: the time for Tail 10 (found by reading backwards
# from the end) and the speed of a full read, each beside cat of the same
# files in the same run.  The log is made by flooding the real plugin:
# SIZE_MB of 100-byte lines, rotated at 100 MB.
#
#   bench/readlogs.sh BIN FLOOD DIR SIZE_MB
set -eu
BIN=$1 FLOOD=$2 DIR=$3 SIZE_MB=$4
d=$DIR/readlogs.$$
rm -rf "$d"
mkdir -p "$d/fifo" "$d/logs"
"$BIN" serve --socket "$d/s.sock" --log-root "$d/logs" --fifo-dir "$d/fifo" \
	--log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$d"' EXIT
i=0
while [ ! -S "$d/s.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
cid=$(printf '%064d' 0 | tr 0 c)
# rate-policy=block: the flooder outruns the disk, and under the default
# policy a full queue drops lines (the log would never reach SIZE_MB).
info="{\"ContainerID\":\"$cid\",\"Config\":{\"rate-limit\":\"0\",\"rate-policy\":\"block\",\"max-size\":\"100m\",\"max-file\":\"20\"}}"
fifo=$d/fifo/$cid
mkfifo "$fifo"
exec 9<>"$fifo"
curl -sf --unix-socket "$d/s.sock" -o /dev/null \
	-d "{\"File\":\"$fifo\",\"Info\":$info}" http://plugin/LogDriver.StartLogging
# A json-file line of a 100-byte text is about 160 bytes on disk.
lines=$((SIZE_MB * 1000000 / 160))
"$FLOOD" "$fifo" "$lines" 99
curl -sf --unix-socket "$d/s.sock" -o /dev/null -d "{\"File\":\"$fifo\"}" \
	http://plugin/LogDriver.StopLogging
exec 9>&-
f=$d/logs/$cid/$cid-json.log
i=0
while [ "$(tail -c 200 "$f" 2>/dev/null | grep -c 'x\\n' || true)" -eq 0 ] ||
	[ "$(du -sm "$d/logs" | cut -f1)" -lt $((SIZE_MB * 9 / 10)) ]; do
	i=$((i + 1))
	if [ $i -gt 600 ]; then
		echo "readlogs: the log is $(du -sm "$d/logs" | cut -f1) MB after 120 s, $SIZE_MB MB expected" >&2
		exit 1
	fi
	sleep 0.2
done
sleep 1
bytes=$(cat "$d/logs/$cid"/* | wc -c)
nfiles=$(ls "$d/logs/$cid" | wc -l)
req() {
	printf '{"Info":%s,"Config":{"Since":"0001-01-01T00:00:00Z","Until":"0001-01-01T00:00:00Z","Tail":%s,"Follow":false}}' "$info" "$1"
}
ms() { echo "$(($(date +%s%N) / 1000000))"; }
# Warm the page cache once for both readers.
cat "$d/logs/$cid"/* >/dev/null
t0=$(ms)
n=$(curl -sf --unix-socket "$d/s.sock" -d "$(req 10)" \
	http://plugin/LogDriver.ReadLogs | wc -c)
t1=$(ms)
t2=$(ms)
tail -n 10 "$f" >/dev/null
t3=$(ms)
t4=$(ms)
full=$(curl -sf --unix-socket "$d/s.sock" -d "$(req -1)" \
	http://plugin/LogDriver.ReadLogs | wc -c)
t5=$(ms)
t6=$(ms)
cat "$d/logs/$cid"/* >/dev/null
t7=$(ms)
awk -v b="$bytes" -v nf="$nfiles" -v n="$n" -v tail="$((t1 - t0))" \
	-v ctail="$((t3 - t2))" -v full="$full" -v tf="$((t5 - t4))" \
	-v tc="$((t7 - t6))" 'BEGIN {
	printf "log: %.0f MB in %d files\n", b / 1e6, nf
	printf "ReadLogs Tail 10: %d ms (%d bytes of frames); tail -n 10 of the current file: %d ms\n", tail, n, ctail
	if (tf == 0) tf = 1; if (tc == 0) tc = 1
	printf "ReadLogs full read: %.0f MB/s of json-file read (%.0f MB of frames sent); cat: %.0f MB/s; ratio %.2f\n", b / tf / 1e3, full / 1e6, b / tc / 1e3, (b / tf) / (b / tc)
}'
