#!/bin/sh
# dockerd's CPU with ratelog against json-file, on a real dockerd.
#
#   bench/dockerd_cpu.sh [BIN]        (BIN: the ratelog binary, default
#                                      $RATELOG_BIN or build/ratelog; root)
#
# A container writes N lines of L bytes to stdout (default 2,000,000 x 100,
# bench/lines_writer.c, 64 KiB per write: the writer is never the
# bottleneck, dockerd's copier is) once with --log-driver json-file and once
# through the ratelog plugin with rate-limit=0, rate-policy=block and a
# max-size no run reaches, ROUNDS times (default 3) alternating.  Block,
# because under the default policy (drop) a full queue to the writer
# thread drops lines even without a rate limit, as json-file never does
# (seen here: about 1,100 of 2,000,000), and then the run never ends with
# all lines on disk.  For each run:
#   - the container's run time (State.StartedAt to State.FinishedAt) and the
#     throughput N x L over it;
#   - dockerd's CPU (utime + stime of /proc/PID/stat, every thread) and, for
#     ratelog, the plugin process's, from just before "docker start" until
#     all N lines are in the log file (json-file's <id>-json.log, or the
#     plugin's <log root>/<id>/<id>-json.log), per line; the plugin's split
#     into its event loop (main thread) and the rest (the writer thread);
#   - for information, the time from "docker start" until all lines were
#     counted on disk (polled every 0.1 s).
# Then the medians of each side and three ratios with issue 7's targets:
#   plugin CPU/line / json-file's dockerd CPU/line         <= 0.1
#   dockerd CPU/line with ratelog / with json-file          <= 1.5
#   throughput with ratelog / with json-file                >= 0.9
#
# The engine: the running dockerd (its pid from /var/run/docker.pid, else
# the only dockerd process), or, when none answers or BENCH_PRIVATE=1, a
# private containerd + dockerd started as tests/e2e/lib.sh does with
# E2E_PRIVATE=1 (own sockets and roots under a temporary directory), so
# other users of the machine cannot add to its CPU counters; it is stopped
# at the end.  On a shared engine every other container's logging counts
# into dockerd's CPU too: the script says how many others were running.
#
# What it creates it removes at the end, also on a signal: its containers
# (ratelog-bench-<pid>-*), the image ratelog-bench-bb:latest, the plugin
# ratelog-bench:latest (built with packaging/make-plugin.sh, its logs on a
# temporary directory), the temporary directory.  It touches nothing else.
#
# Exit status: 0 when every run completed (whether or not the targets were
# met: the figures are the output), 1 on an error, 77 when it cannot run
# here (not root, no dockerd).
#
# Environment: N, L, ROUNDS; BENCH_PRIVATE=1; BENCH_KEEP=1 keeps the
# temporary directory (daemon logs); DOCKER (default /usr/bin/docker).

# The cleanup runs from a trap; shellcheck cannot see that call.
# shellcheck disable=SC2317
set -u

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh
# shellcheck source=bench/median.sh
. bench/median.sh

# lib.sh's messages, under this script's name.
e2e_log() {
	printf 'dockerd_cpu: %s\n' "$*"
}
e2e_why() {
	printf 'dockerd_cpu:   %s\n' "$*" >&2
}

BIN=${1:-${RATELOG_BIN:-build/ratelog}}
N=${N:-2000000}
L=${L:-100}
ROUNDS=${ROUNDS:-3}
PLUGIN=ratelog-bench:latest
IMAGE=ratelog-bench-bb:latest
CPREFIX=ratelog-bench-$$-
HZ=$(getconf CLK_TCK)
DPID=
PLUGIN_ID=
LOGS=
CREATED_PLUGIN=0
CREATED_IMAGE=0

die() {
	e2e_why "$*"
	exit 1
}

bench_cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$E2E_TMP" ] && docker_up; then
		_ids=$(dk ps -aq --filter "name=$CPREFIX")
		# shellcheck disable=SC2086
		[ -z "$_ids" ] || dk rm -f $_ids >/dev/null 2>&1
		if [ "$CREATED_PLUGIN" = 1 ] &&
			dk plugin inspect "$PLUGIN" >/dev/null 2>&1; then
			dk plugin rm -f "$PLUGIN" >/dev/null 2>&1 ||
				e2e_log "could not remove the plugin $PLUGIN"
		fi
		[ "$CREATED_IMAGE" = 0 ] || dk rmi "$IMAGE" >/dev/null 2>&1
	fi
	stop_dockerd
	if [ -n "$E2E_CONTAINERD_PID" ]; then
		e2e_log "stopping containerd (pid $E2E_CONTAINERD_PID)"
		stop_pid "$E2E_CONTAINERD_PID" 20
	fi
	[ -n "$E2E_TMP" ] && [ -d "$E2E_TMP" ] || return 0
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		e2e_log "kept $E2E_TMP"
	elif ! rm -rf "$E2E_TMP" 2>/dev/null; then
		e2e_log "could not remove all of $E2E_TMP"
	fi
}

on_exit() {
	_rc=$?
	bench_cleanup
	exit "$_rc"
}

# utime + stime of a process, every thread, in clock ticks.  The fields
# are counted after the ")" that ends the command name.
ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# RFC3339Nano (as docker inspect prints it) to nanoseconds since the epoch.
ns_of() {
	date -u -d "$1" +%s%N
}

size() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# The plugin's process: the "ratelog" whose cgroup path names the plugin's
# id (dockerd runs a managed plugin as a runc container of that id), so
# neither the e2e tests' plugin nor a ratelog outside Docker is taken.
plugin_pid() {
	for _p in $(pgrep -x ratelog); do
		if grep -q "$PLUGIN_ID" "/proc/$_p/cgroup" 2>/dev/null; then
			echo "$_p"
			return 0
		fi
	done
	return 1
}

# wait_all FILE LINES: FILE has LINES lines.  They are counted only once
# the file stopped growing for 0.1 s, so counting does not compete with
# dockerd or the plugin while they write; fails when the file has not grown
# for 10 s and still lacks lines, or after 300 s.
wait_all() {
	_deadline=$(($(date +%s) + 300))
	_last=-1
	_counted=-1
	_still=0
	while :; do
		_now=$(size "$1")
		if [ "$_now" -eq "$_last" ] && [ "$_now" -gt 0 ]; then
			if [ "$_now" -ne "$_counted" ]; then
				_n=$(wc -l <"$1")
				_counted=$_now
				[ "$_n" -eq "$2" ] && return 0
				[ "$_n" -lt "$2" ] ||
					die "$1: $_n lines, want $2"
			fi
			_still=$((_still + 1))
			[ "$_still" -lt 100 ] ||
				die "$1: $_n of $2 lines, and no more for 10 s"
		else
			_still=0
		fi
		_last=$_now
		[ "$(date +%s)" -lt "$_deadline" ] ||
			die "$1: $(wc -l <"$1" 2>/dev/null) of $2 lines after 300 s"
		sleep 0.1
	done
}

# run_once KIND TAG LINES: one container with KIND json or ratelog writing
# LINES lines; prints "run_ns dockerd_ticks plugin_ticks loop_ticks
# disk_ns": the plugin's CPU, of it its event loop's (the main thread;
# the rest is the writer thread's), both 0 for json-file, and the time from
# "docker start" until all lines were counted in the file.
run_once() {
	_name=$CPREFIX$1-$2
	if [ "$1" = json ]; then
		set -- json "$2" "$3" --log-driver json-file
	else
		set -- ratelog "$2" "$3" --log-driver "$PLUGIN" \
			--log-opt rate-limit=0 --log-opt rate-policy=block \
			--log-opt max-size=100g
	fi
	_kind=$1 _lines=$3
	shift 3
	_cid=$(dk create --name "$_name" --network none "$@" "$IMAGE" \
		/bin/lines_writer "$_lines" "$L") || die "docker create failed"
	_pp=
	[ "$_kind" = json ] || _pp=$(plugin_pid) || die "no plugin process"
	_others=$(dk ps -q | grep -vc "^$(echo "$_cid" | cut -c1-12)")
	[ "$_others" -eq 0 ] ||
		e2e_log "$_others other containers running on this dockerd"
	_d0=$(ticks "$DPID")
	_p0=0 _l0=0
	if [ -n "$_pp" ]; then
		_p0=$(ticks "$_pp")
		_l0=$(ticks "$_pp/task/$_pp")
	fi
	_t0=$(date +%s%N)
	dk start "$_cid" >/dev/null || die "docker start failed"
	# json-file's LogPath is set when the container starts.
	if [ "$_kind" = json ]; then
		_f=$(dk inspect -f '{{.LogPath}}' "$_cid") || die "inspect failed"
	else
		_f=$LOGS/$_cid/$_cid-json.log
	fi
	[ -n "$_f" ] || die "no log path for $_cid"
	_rc=$(dk_t 900 wait "$_cid") || die "docker wait failed"
	[ "$_rc" = 0 ] || die "the container exited with $_rc"
	wait_all "$_f" "$_lines"
	_t1=$(date +%s%N)
	_d1=$(ticks "$DPID")
	_p1=0 _l1=0
	if [ -n "$_pp" ]; then
		_p1=$(ticks "$_pp") ||
			die "the plugin process $_pp is gone (restarted?)"
		_l1=$(ticks "$_pp/task/$_pp")
		[ "$(plugin_pid)" = "$_pp" ] || die "the plugin was restarted"
	fi
	_t=$(dk inspect -f '{{.State.StartedAt}} {{.State.FinishedAt}}' \
		"$_cid") || die "inspect failed"
	if ! _s=$(ns_of "${_t% *}") || ! _e=$(ns_of "${_t#* }"); then
		die "cannot parse the container's times: $_t"
	fi
	dk rm -f "$_cid" >/dev/null
	[ "$_kind" = json ] || rm -rf "${LOGS:?}/$_cid"
	# The next run starts with no dirty pages of this one to write back.
	sync
	echo "$((_e - _s)) $((_d1 - _d0)) $((_p1 - _p0)) $((_l1 - _l0))" \
		"$((_t1 - _t0))"
}

# ---- setup ---------------------------------------------------------------

[ "$(id -u)" = 0 ] || {
	e2e_log "needs root (dockerd, plugins)"
	exit 77
}
[ -x "$BIN" ] || die "$BIN is missing (make)"
E2E_TMP=$(mktemp -d /tmp/ratelog-bench.XXXXXX) || exit 1
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "${BENCH_PRIVATE:-0}" != 1 ] && docker_up; then
	e2e_log "using the running dockerd"
	if [ -r /var/run/docker.pid ] && [ -z "${DOCKER_HOST:-}" ]; then
		DPID=$(cat /var/run/docker.pid)
	else
		DPID=$(pidof dockerd)
	fi
	case $DPID in
	"" | *" "*) die "cannot tell which dockerd process answers ('$DPID')" ;;
	esac
else
	command -v dockerd >/dev/null 2>&1 || {
		e2e_log "no dockerd (sh packaging/deps.sh test installs it)"
		exit 77
	}
	# shellcheck disable=SC2034
	E2E_PRIVATE=1
	ensure_docker || die "could not start containerd and dockerd"
	DPID=$E2E_DOCKERD_PID
fi
pid_alive "$DPID" || die "dockerd pid '$DPID' is not alive"
e2e_log "dockerd pid $DPID, $ROUNDS rounds of $N lines of $L bytes"

# The image: just the writer, linked statically.
mkdir -p "$E2E_TMP/image/bin" "$E2E_TMP/image/tmp"
cc -std=c11 -D_GNU_SOURCE -O2 -static -o "$E2E_TMP/image/bin/lines_writer" \
	bench/lines_writer.c || die "cannot build bench/lines_writer.c"
tar -C "$E2E_TMP/image" -c . | dk import - "$IMAGE" >/dev/null ||
	die "docker import failed"
CREATED_IMAGE=1

# The plugin, from BIN, its logs in the temporary directory.
LOGS=$E2E_TMP/logs
mkdir -p "$LOGS"
CREATED_PLUGIN=1
DOCKER=$DOCKER timeout 120 sh packaging/make-plugin.sh "$BIN" "$PLUGIN" \
	"$E2E_TMP/plugin-dir" >"$E2E_TMP/create.log" 2>&1 || {
	tail -n 5 "$E2E_TMP/create.log" >&2
	die "packaging/make-plugin.sh failed"
}
dk plugin set "$PLUGIN" "logs.source=$LOGS" || die "docker plugin set failed"
dk plugin enable --timeout 0 "$PLUGIN" >/dev/null ||
	die "docker plugin enable failed"
PLUGIN_ID=$(dk plugin inspect -f '{{.ID}}' "$PLUGIN") || die "no plugin id"
wait_for 10 plugin_pid >/dev/null || die "no process of plugin $PLUGIN_ID"
e2e_log "plugin $PLUGIN (pid $(plugin_pid)) from $BIN, logs in $LOGS"

# One short run each first: image layers, the plugin's first stream and
# the page cache are warm before anything is measured.
run_once json warm 10000 >/dev/null
run_once ratelog warm 10000 >/dev/null

# ---- the rounds ----------------------------------------------------------

: >"$E2E_TMP/json.txt"
: >"$E2E_TMP/ratelog.txt"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	j=$(run_once json "$r" "$N") || exit 1
	echo "$j" >>"$E2E_TMP/json.txt"
	p=$(run_once ratelog "$r" "$N") || exit 1
	echo "$p" >>"$E2E_TMP/ratelog.txt"
	printf '%s %s\n' "$j" "$p" | awk -v n="$N" -v l="$L" -v hz="$HZ" \
		-v r="$r" '{
		printf "  round %d json-file: run %.2f s, %.1f MB/s, dockerd %.0f ns/line; all on disk after %.2f s\n", r, $1 / 1e9, n * l / ($1 / 1e9) / 1e6, $2 / hz * 1e9 / n, $5 / 1e9
		printf "  round %d ratelog:   run %.2f s, %.1f MB/s, dockerd %.0f ns/line, plugin %.0f ns/line (loop %.0f, writer %.0f); all on disk after %.2f s\n", r, $6 / 1e9, n * l / ($6 / 1e9) / 1e6, $7 / hz * 1e9 / n, $8 / hz * 1e9 / n, $9 / hz * 1e9 / n, ($8 - $9) / hz * 1e9 / n, $10 / 1e9
	}'
	r=$((r + 1))
done

paste -d' ' "$E2E_TMP/json.txt" "$E2E_TMP/ratelog.txt" | awk -v n="$N" \
	-v l="$L" -v hz="$HZ" "$MEDIAN_AWK"'
function verdict(ok) { return ok ? "met" : "MISSED" }
{
	k++
	jt[k] = n * l / ($1 / 1e9) / 1e6
	jd[k] = $2 / hz * 1e9 / n
	rt[k] = n * l / ($6 / 1e9) / 1e6
	rd[k] = $7 / hz * 1e9 / n
	rp[k] = $8 / hz * 1e9 / n
}
END {
	JT = median(jt, k); JD = median(jd, k)
	RT = median(rt, k); RD = median(rd, k); RP = median(rp, k)
	printf "dockerd CPU, %d lines of %d bytes, medians of %d rounds:\n", n, l, k
	printf "  json-file: %.1f MB/s, dockerd %.0f ns/line\n", JT, JD
	printf "  ratelog:   %.1f MB/s, dockerd %.0f ns/line, plugin %.0f ns/line\n", RT, RD, RP
	printf "  plugin CPU/line / json-file dockerd CPU/line = %.3f (target <= 0.1: %s)\n", RP / JD, verdict(RP / JD <= 0.1)
	printf "  dockerd CPU/line ratelog / json-file         = %.2f (target <= 1.5: %s)\n", RD / JD, verdict(RD / JD <= 1.5)
	printf "  throughput ratelog / json-file               = %.2f (target >= 0.9: %s)\n", RT / JT, verdict(RT / JT >= 0.9)
}'
