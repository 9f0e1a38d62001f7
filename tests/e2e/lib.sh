# shellcheck shell=sh disable=SC2034,SC2119,SC2120
# Helpers for tests/e2e/run.sh (POSIX sh, sourced).
#
# What is here: the docker client with a timeout on every call, test case
# bookkeeping (PASS/FAIL/SKIP lines and counts), polling with deadlines,
# starting containerd, dockerd and a registry when they are not there, and
# checks on json-file lines.  Nothing here can wait forever: every command
# that talks to a daemon runs under timeout(1), every wait has a deadline.
#
# Daemons: whatever this script starts (containerd, dockerd, the registry)
# it also stops in e2e_cleanup, so a run leaves the machine as it found it.
# A daemon that was already running is used as it is and left alone.

# The docker client.  /usr/local/bin/docker may be a newer client than the
# engine; the Debian one matches the engine Debian installed.
if [ -z "${DOCKER:-}" ]; then
	if [ -x /usr/bin/docker ]; then
		DOCKER=/usr/bin/docker
	else
		DOCKER=docker
	fi
fi

E2E_PASSED=0
E2E_FAILED=0
E2E_SKIPPED=0
E2E_TMP=
E2E_DOCKERD_PID=
E2E_DOCKERD_ARGS=
E2E_CONTAINERD_PID=
E2E_CONTAINERD_SOCK=/run/containerd/containerd.sock
E2E_CONTAINERD_ARGS=
E2E_REGISTRY_PID=
E2E_REGISTRY=
E2E_PRIVATE=${E2E_PRIVATE:-0}

# printf, not echo: dash's echo would expand the backslashes in JSON text.
e2e_log() {
	printf 'e2e: %s\n' "$*"
}

# Why the current case failed; printed under its FAIL line.
e2e_why() {
	printf '    %s\n' "$*"
}

# e2e_case NAME FUNCTION [ARG...]: run FUNCTION as one test case.
e2e_case() {
	_name=$1
	shift
	e2e_log "--- $_name"
	if "$@"; then
		E2E_PASSED=$((E2E_PASSED + 1))
		echo "PASS: $_name"
		return 0
	fi
	E2E_FAILED=$((E2E_FAILED + 1))
	echo "FAIL: $_name"
	return 1
}

e2e_skip() {
	E2E_SKIPPED=$((E2E_SKIPPED + 1))
	printf 'SKIP: %s: %s\n' "$1" "$2"
}

# The docker client, bounded: dk_t SECONDS ARG... or dk ARG... (60 s).
dk_t() {
	_t=$1
	shift
	timeout -k 5 "$_t" "$DOCKER" "$@"
}

dk() {
	dk_t 60 "$@"
}

# wait_for SECONDS COMMAND...: poll every 0.2 s until COMMAND succeeds.
wait_for() {
	_deadline=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.2
	done
	return 0
}

docker_up() {
	dk_t 15 info >/dev/null 2>&1
}

pid_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# stop_pid PID SECONDS: SIGTERM, then SIGKILL after SECONDS.
stop_pid() {
	pid_alive "$1" || return 0
	kill -TERM "$1" 2>/dev/null
	if ! wait_for "$2" sh -c "! kill -0 $1 2>/dev/null"; then
		e2e_log "pid $1 ignored SIGTERM for $2 s, killing it"
		kill -KILL "$1" 2>/dev/null
		wait_for 10 sh -c "! kill -0 $1 2>/dev/null"
	fi
}

# Is anything listening on TCP port $1 (IPv4 or IPv6, any address)?
tcp_listening() {
	_hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p=":$_hex" '$4 == "0A" && substr($2, length($2) - 4) == p \
			{ found = 1 } END { exit !found }'
}

# busybox wget, because curl may not be installed; its -T option crashes
# the bookworm build, so timeout(1) bounds it instead.
http_ok() {
	timeout 10 busybox wget -q -O /dev/null "$1" 2>/dev/null
}

# dockerd's log, where the plugin's stderr also goes (plugin=<id>); only
# readable when this script started dockerd.
e2e_dockerd_log_tail() {
	[ -n "$E2E_DOCKERD_PID" ] || return 0
	e2e_log "last lines of $E2E_TMP/dockerd.log:"
	tail -n "${1:-40}" "$E2E_TMP/dockerd.log" | sed 's/^/    /'
}

# Mount the cgroup hierarchy when nothing did (a bare VM without systemd);
# Debian's cgroupfs-mount comes with docker.io.
ensure_cgroups() {
	grep -q ' /sys/fs/cgroup[/ ]' /proc/mounts && return 0
	if command -v cgroupfs-mount >/dev/null 2>&1; then
		e2e_log "no cgroups mounted, running cgroupfs-mount"
		cgroupfs-mount
	else
		e2e_log "no cgroups mounted, mounting cgroup2"
		mount -t cgroup2 none /sys/fs/cgroup
	fi
}

ensure_containerd() {
	if timeout 10 ctr --address "$E2E_CONTAINERD_SOCK" version \
		>/dev/null 2>&1; then
		return 0
	fi
	e2e_log "starting containerd (log: $E2E_TMP/containerd.log)"
	# shellcheck disable=SC2086
	containerd --address "$E2E_CONTAINERD_SOCK" $E2E_CONTAINERD_ARGS \
		</dev/null >"$E2E_TMP/containerd.log" 2>&1 &
	E2E_CONTAINERD_PID=$!
	if ! wait_for 30 timeout 5 ctr --address "$E2E_CONTAINERD_SOCK" \
		version >/dev/null 2>&1; then
		e2e_why "containerd did not come up within 30 s:"
		tail -n 20 "$E2E_TMP/containerd.log" | sed 's/^/    /'
		return 1
	fi
}

# start_dockerd [EXTRA-ARG...]: start dockerd with the arguments chosen in
# ensure_docker plus EXTRA, wait until it answers.
start_dockerd() {
	e2e_log "starting dockerd $* (log: $E2E_TMP/dockerd.log)"
	# shellcheck disable=SC2086
	dockerd --containerd="$E2E_CONTAINERD_SOCK" $E2E_DOCKERD_ARGS "$@" \
		</dev/null >>"$E2E_TMP/dockerd.log" 2>&1 &
	E2E_DOCKERD_PID=$!
	_deadline=$(($(date +%s) + 60))
	while ! docker_up; do
		if ! pid_alive "$E2E_DOCKERD_PID"; then
			e2e_why "dockerd exited during start-up"
			e2e_dockerd_log_tail 20
			E2E_DOCKERD_PID=
			return 1
		fi
		if [ "$(date +%s)" -ge "$_deadline" ]; then
			e2e_why "dockerd did not answer within 60 s"
			e2e_dockerd_log_tail 20
			return 1
		fi
		sleep 0.5
	done
}

# dockerd shuts plugins down with SIGTERM and SIGKILL after 10 s, and
# containers likewise, so give it time before killing it.
stop_dockerd() {
	[ -n "$E2E_DOCKERD_PID" ] || return 0
	e2e_log "stopping dockerd (pid $E2E_DOCKERD_PID)"
	stop_pid "$E2E_DOCKERD_PID" 45
	E2E_DOCKERD_PID=
}

# Use the running engine, or start containerd (when its socket does not
# answer) and dockerd like protocol doc section 14.  With E2E_PRIVATE=1 a
# separate containerd and dockerd are started even when others run (own
# sockets, roots, state and config under $E2E_TMP), so the start-up path
# and the case that restarts dockerd can be run on a machine whose engine
# others use.
ensure_docker() {
	if [ "$E2E_PRIVATE" != 1 ] && docker_up; then
		e2e_log "using the running dockerd"
		return 0
	fi
	if ! command -v dockerd >/dev/null 2>&1; then
		e2e_why "no dockerd (sh packaging/deps.sh test installs it)"
		return 1
	fi
	ensure_cgroups || return 1
	if [ "$E2E_PRIVATE" = 1 ]; then
		_d=$E2E_TMP/daemon
		mkdir -p "$_d"
		printf '%s\n' 'version = 2' \
			'disabled_plugins = ["io.containerd.grpc.v1.cri"]' \
			>"$_d/containerd.toml"
		E2E_CONTAINERD_SOCK=$_d/containerd.sock
		E2E_CONTAINERD_ARGS="--root $_d/containerd --state $_d/containerd-state \
--config $_d/containerd.toml"
		echo '{}' >"$_d/daemon.json"
		E2E_DOCKERD_ARGS="-H unix://$_d/docker.sock --data-root $_d/data \
--exec-root $_d/exec --pidfile $_d/dockerd.pid --config-file $_d/daemon.json \
--containerd-namespace ratelog-e2e --containerd-plugins-namespace \
ratelog-e2e-plugins"
		DOCKER_HOST=unix://$_d/docker.sock
		export DOCKER_HOST
	fi
	# The test containers run with --network none, so the daemon needs no
	# bridge and no iptables: two things fewer that can fail on a bare VM.
	E2E_DOCKERD_ARGS="$E2E_DOCKERD_ARGS --bridge none --iptables=false \
--ip-masq=false"
	ensure_containerd || return 1
	start_dockerd
}

# Debian's docker-registry on loopback (trusted without TLS).  Reuses a
# registry on 127.0.0.1:5000 that answers /v2/ without auth; otherwise
# starts one with its own config and storage on the first free port from
# 5000.  Sets E2E_REGISTRY to host:port.
ensure_registry() {
	_port=5000
	if tcp_listening 5000 && http_ok http://127.0.0.1:5000/v2/; then
		E2E_REGISTRY=127.0.0.1:5000
		e2e_log "using the registry on $E2E_REGISTRY"
		return 0
	fi
	while tcp_listening "$_port"; do
		_port=$((_port + 1))
		[ "$_port" -lt 5100 ] || {
			e2e_why "no free port in 5000-5099"
			return 1
		}
	done
	command -v docker-registry >/dev/null 2>&1 || {
		e2e_why "no docker-registry (sh packaging/deps.sh test)"
		return 1
	}
	mkdir -p "$E2E_TMP/registry"
	cat >"$E2E_TMP/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $E2E_TMP/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$_port
EOF
	E2E_REGISTRY=127.0.0.1:$_port
	e2e_log "starting docker-registry on $E2E_REGISTRY"
	docker-registry serve "$E2E_TMP/registry.yml" \
		</dev/null >"$E2E_TMP/registry.log" 2>&1 &
	E2E_REGISTRY_PID=$!
	if ! wait_for 30 http_ok "http://$E2E_REGISTRY/v2/"; then
		e2e_why "the registry did not answer within 30 s:"
		tail -n 20 "$E2E_TMP/registry.log" | sed 's/^/    /'
		return 1
	fi
}

# ---- containers and their json-file logs --------------------------------

# All test containers are named ratelog-e2e-*, so a crashed earlier run is
# cleaned up too.
rm_test_containers() {
	_ids=$(dk ps -aq --filter name=ratelog-e2e-) || return 0
	[ -z "$_ids" ] && return 0
	# shellcheck disable=SC2086
	dk rm -f $_ids >/dev/null 2>&1
}

# run_detached NAME DOCKER-RUN-ARG...: start container ratelog-e2e-NAME
# (no network) in the background and print its id; the arguments end with
# the image and the command.
run_detached() {
	_cname=ratelog-e2e-$1
	shift
	dk rm -f "$_cname" >/dev/null 2>&1
	dk run -d --name "$_cname" --network none "$@"
}

# wait_exit ID: wait for the container to exit with status 0.
wait_exit() {
	_rc=$(dk wait "$1") || {
		e2e_why "docker wait $1 failed or timed out"
		return 1
	}
	[ "$_rc" = 0 ] || {
		e2e_why "container exited with status $_rc"
		return 1
	}
}

logfile() {
	echo "$E2E_LOGS/$1/$1-json.log"
}

nlines() {
	if [ -f "$1" ]; then
		wc -l <"$1" | tr -d ' '
	else
		echo 0
	fi
}

# wait_lines FILE N: within 10 s, FILE has N lines and keeps N for 0.5 s.
wait_lines() {
	if ! wait_for 10 sh -c "[ -f '$1' ] && [ \$(wc -l <'$1') -ge $2 ]"; then
		e2e_why "$1: $(nlines "$1") lines after 10 s, want $2"
		return 1
	fi
	sleep 0.5
	_n=$(nlines "$1")
	[ "$_n" -eq "$2" ] || {
		e2e_why "$1: $_n lines, want $2"
		return 1
	}
}

# RFC3339Nano as Go writes it: UTC "Z", fraction without trailing zeros.
TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,8}[1-9])?Z'

# has_line FILE LOG STREAM: FILE has exactly one line
# {"log":"LOG","stream":"STREAM","time":"<RFC3339Nano>"}; LOG is an ERE
# matching the JSON-escaped text, e.g. 'a\\n'.
has_line() {
	_n=$(grep -c -E -x "\\{\"log\":\"$2\",\"stream\":\"$3\",\"time\":\"$TIME_RE\"\\}" "$1")
	[ "$_n" = 1 ] || {
		e2e_why "$1: $_n lines with log \"$2\" on $3, want 1; file:"
		head -c 2000 "$1" | sed 's/^/    /'
		return 1
	}
}

# json_times FILE: the time field of every line.
json_times() {
	sed -n 's/.*,"time":"\([^"]*\)"}$/\1/p' "$1"
}

# check_times FILE START END [ordered]: every time field is there, the
# earliest and latest parse and lie within [START - 2, END + 2] (epoch
# seconds); with "ordered", times never go backwards from line to line
# (true for one stream; stdout and stderr are stamped by separate copiers
# before they take the logger's lock, so across streams it is not).
check_times() {
	json_times "$1" >"$E2E_TMP/times"
	[ "$(wc -l <"$E2E_TMP/times")" -eq "$(nlines "$1")" ] || {
		e2e_why "$1: some lines have no time field"
		return 1
	}
	# Pad fractions to 9 digits so the strings compare as times.
	awk -v ordered="${4:-}" '{ t = $0; sub(/Z$/, "", t); i = index(t, ".")
		if (i == 0) { b = t; f = "" } else { b = substr(t, 1, i - 1); f = substr(t, i + 1) }
		while (length(f) < 9) f = f "0"
		k = b "." f
		if (ordered != "" && NR > 1 && k < prev) {
			print "line " NR ": " $0 " is before the line above"; exit 1 }
		prev = k; print k, $0 }' "$E2E_TMP/times" >"$E2E_TMP/times.keyed" || {
		e2e_why "$1: $(tail -n 1 "$E2E_TMP/times.keyed")"
		return 1
	}
	for _t in $(sort "$E2E_TMP/times.keyed" | sed -n '1p;$p' | cut -d' ' -f2); do
		_s=$(date -u -d "$_t" +%s 2>/dev/null) || {
			e2e_why "time $_t does not parse"
			return 1
		}
		[ "$_s" -ge $(($2 - 2)) ] && [ "$_s" -le $(($3 + 2)) ] || {
			e2e_why "time $_t is outside the test's run ($2..$3)"
			return 1
		}
	done
}

# same_file WANT GOT WHAT: byte-exact comparison with a readable report.
same_file() {
	cmp -s "$1" "$2" && return 0
	e2e_why "$3 differs: want $(wc -c <"$1") bytes, got $(wc -c <"$2")"
	cmp "$1" "$2" 2>&1 | head -n 1 | sed 's/^/    /'
	return 1
}
