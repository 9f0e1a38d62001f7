#!/bin/sh
# Ingest: N frames of L-byte lines pushed into a FIFO as fast as the plugin
# takes them, until all are json-file lines on disk, beside dd bs=1M writing
# the same number of bytes to the same filesystem.  No rate limit, and
# rate-policy=block: a queue filled faster than the disk takes it slows the
# writer of the FIFO down and loses nothing.
#
# Page-cache writes here swing by 2-5x from one second to the next (shared
# machine, dirty-page throttling), so the two alternate for ROUNDS rounds
# (default 7) and the ratio of the medians is what counts (issue 7 wants
# >= 0.5).  Twice: to the page cache (dd as it is; the plugin until every
# line is in the file), and to the disk (dd conv=fdatasync; the plugin
# until every line is in the file and the file is fdatasync'ed).  Also
# prints lines/s and the plugin's CPU per line.
#
#   bench/ingest.sh BIN FLOOD DIR N L
set -eu
# shellcheck source=bench/median.sh
. "$(dirname "$0")/median.sh"
BIN=$1 FLOOD=$2 DIR=$3 N=$4 L=$5
ROUNDS=${ROUNDS:-7}
d=$DIR/ingest.$$
rm -rf "$d"
mkdir -p "$d/fifo" "$d/logs"
"$BIN" serve --socket "$d/s.sock" --log-root "$d/logs" --fifo-dir "$d/fifo" \
	--log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$d"' EXIT
i=0
while [ ! -S "$d/s.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
api() {
	curl -sf --unix-socket "$d/s.sock" -o /dev/null -d "$2" \
		"http://plugin/LogDriver.$1"
}
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# One round of the plugin: prints "ns bytes ticks".  SYNC=1: to the disk.
plugin_round() {
	cid=$(printf '%064d' "$1" | tr 0 e)
	fifo=$d/fifo/$cid
	f=$d/logs/$cid/$cid-json.log
	mkfifo "$fifo"
	exec 9<>"$fifo"
	api StartLogging "{\"File\":\"$fifo\",\"Info\":{\"ContainerID\":\"$cid\",\"Config\":{\"rate-limit\":\"0\",\"rate-policy\":\"block\",\"max-size\":\"100g\"}}}"
	c0=$(ticks)
	t0=$(date +%s%N)
	"$FLOOD" "$fifo" "$N" "$L"
	api StopLogging "{\"File\":\"$fifo\"}"
	exec 9>&-
	# Done when the file stops growing (looked at cheaply: counting the
	# lines of a growing file would compete with the plugin for the
	# page cache); then every line must be there.
	i=0
	last=-1
	while :; do
		now=$(size "$f")
		[ "$now" -eq "$last" ] && [ "$now" -gt 0 ] && break
		last=$now
		i=$((i + 1))
		if [ $i -gt 12000 ]; then
			echo "ingest: the log still grows after 60 s" >&2
			exit 1
		fi
		sleep 0.005
	done
	if [ "$SYNC" = 1 ]; then
		sync -d "$f"
		t1=$(date +%s%N)
	else
		# The time of the last write (mtime, ns), not when the polls
		# saw it stop: the polls and their stat processes were 15-25 ms
		# of a 0.35 s run, and dd's run has no such tail.
		t1=$(stat -c %.9Y "$f" | tr -d .)
	fi
	c1=$(ticks)
	lines=$(wc -l <"$f")
	if [ "$lines" -ne "$N" ]; then
		echo "ingest: $lines of $N lines arrived" >&2
		exit 1
	fi
	echo "$((t1 - t0)) $(size "$f") $((c1 - c0))"
	rm -f "$f" "$fifo"
}

# One round of dd, the same bytes: prints "ns bytes".
dd_round() {
	mb=$(($1 / 1048576 + 1))
	t0=$(date +%s%N)
	if [ "$SYNC" = 1 ]; then
		dd if=/dev/zero of="$d/dd" bs=1M count=$mb conv=fdatasync \
			2>/dev/null
	else
		dd if=/dev/zero of="$d/dd" bs=1M count=$mb 2>/dev/null
	fi
	t1=$(date +%s%N)
	echo "$((t1 - t0)) $((mb * 1048576))"
	rm -f "$d/dd"
}

# Memory freed a second or more ago may have been handed back to the
# hypervisor (virtio-balloon free page reporting), and the first write to
# it then runs at about a tenth of the speed: dd alone swung between 0.5
# and 5.5 GB/s by whether it had paused first.  So right before each
# measured run, plugin's or dd's alike, the same bytes are written to a
# scratch file and deleted, and both start with memory that is ready.
warm() {
	dd if=/dev/zero of="$d/warm" bs=1M count=$((N * (L + 80) / 1048576 + 1)) \
		2>/dev/null
	rm -f "$d/warm"
}

report() {
: >"$d/plugin.txt"
	: >"$d/dd.txt"
	r=1
	while [ $r -le "$ROUNDS" ]; do
		warm
		p=$(plugin_round $((r + 100 * SYNC)))
		echo "$p" >>"$d/plugin.txt"
		sync
		warm
		dd_round "$(echo "$p" | cut -d' ' -f2)" >>"$d/dd.txt"
		sync
		r=$((r + 1))
	done
	hz=$(getconf CLK_TCK)
	# Per round: plugin MB/s, lines/s, ns CPU/line; dd MB/s.  Then medians.
	paste -d' ' "$d/plugin.txt" "$d/dd.txt" | awk -v n="$N" -v l="$L" \
		-v hz="$hz" -v rounds="$ROUNDS" "$MEDIAN_AWK"'
	{
		k++
		pm[k] = $2 / ($1 / 1e9) / 1e6
		ls[k] = n / ($1 / 1e9)
		cpu[k] = $3 / hz * 1e9 / n
		dm[k] = $5 / ($4 / 1e9) / 1e6
		rs[k] = pm[k] / dm[k]
		printf "  round %d: ratelog %.0f MB/s (%.0f lines/s, %.0f ns CPU/line), dd %.0f MB/s, ratio %.2f\n", k, pm[k], ls[k], cpu[k], dm[k], rs[k]
	}
	END {
		p = median(pm, k); d = median(dm, k)
		printf "ingest %d-byte lines, median of %d rounds: %.0f lines/s, %.0f MB/s of json-file, plugin CPU %.0f ns/line\n", l, k, median(ls, k), p, median(cpu, k)
		printf "dd bs=1M, same filesystem, median: %.0f MB/s; ratio of medians ratelog/dd = %.2f (target >= 0.5); median of the rounds\047 ratios (each plugin run against the dd run after it) = %.2f\n", d, p / d, median(rs, k)
	}'
}

# The stand-in for dockerd has to outrun the plugin, or this measures it.
mkfifo "$d/alone"
dd if="$d/alone" of=/dev/null bs=1M 2>/dev/null &
t0=$(date +%s%N)
"$FLOOD" "$d/alone" "$N" "$L"
wait $!
t1=$(date +%s%N)
echo "the frame writer alone (dd reading the FIFO): $(awk -v n="$N" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }') lines/s"

for SYNC in 0 1; do
	[ $SYNC = 1 ] && where="to the disk (fdatasync)" || where="to the page cache"
	echo "$where:"
	report
done
