#!/bin/sh
# Every test tier, the body of "make test" (the README's test command).
#
#   tests/run-all.sh
#
# 1. sh packaging/deps.sh test             install what is missing (root)
# 2. unit, integration                    plain build in build/
# 3. unit, integration under ASan+UBSan   build in build-asan/
# 4. unit, and the plugin behind integration, under valgrind (build/)
# 5. e2e                                  tests/e2e/run.sh, real dockerd
#
# Each tier appends "passed failed" to $RATELOG_TALLY (tests/run-tier.sh,
# tests/e2e/run.sh).  A tier that exits non-zero without reporting, or
# reports no failure but still exits non-zero (a build error, a crash
# outside a test), counts as one failure, so the totals never hide it.
# Every tier runs even when an earlier one failed.  The last line is
# "N passed, N failed" over all tiers; the exit status is 1 when anything
# failed or errored.
#
# When the caller already set RATELOG_TALLY (.ci/run does, to count a fuzz
# run), its lines are part of the totals.
set -u

cd "$(dirname "$0")/.." || exit 1

own_tally=
if [ -z "${RATELOG_TALLY:-}" ]; then
	RATELOG_TALLY=$(mktemp "${TMPDIR:-/tmp}/ratelog-tally.XXXXXX") || exit 1
	own_tally=$RATELOG_TALLY
	trap 'rm -f "$own_tally"' EXIT
fi
export RATELOG_TALLY
touch "$RATELOG_TALLY"

jobs=$(nproc 2>/dev/null || echo 2)
status=0

failures_in() {
	# Sum of the failed column over lines $1+1 .. end.
	tail -n "+$(($1 + 1))" "$RATELOG_TALLY" | awk '{ f += $2 } END { print f + 0 }'
}

# tier NAME COMMAND...: run one tier and check that it reported.
tier() {
	name=$1
	shift
	echo "run-all: === $name"
	before=$(wc -l <"$RATELOG_TALLY")
	"$@"
	rc=$?
	after=$(wc -l <"$RATELOG_TALLY")
	if [ "$rc" -eq 0 ] && [ "$after" -gt "$before" ]; then
		return 0
	fi
	status=1
	if [ "$after" -eq "$before" ]; then
		echo "run-all: $name errored (exit $rc) before reporting results;" \
			"counted as 1 failure"
		echo "0 1" >>"$RATELOG_TALLY"
	elif [ "$rc" -ne 0 ] && [ "$(failures_in "$before")" -eq 0 ]; then
		echo "run-all: $name exited $rc with no failed test;" \
			"counted as 1 failure"
		echo "0 1" >>"$RATELOG_TALLY"
	fi
}

echo "run-all: === deps"
if ! sh packaging/deps.sh test; then
	echo "run-all: installing the test dependencies failed; counted as" \
		"1 failure, the tiers run anyway"
	echo "0 1" >>"$RATELOG_TALLY"
	status=1
fi

tier unit make -j"$jobs" B=build unit
tier integration make -j"$jobs" B=build integration
tier "unit (ASan+UBSan)" env \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make -j"$jobs" SAN=address,undefined B=build-asan unit
tier "integration (ASan+UBSan)" env \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make -j"$jobs" SAN=address,undefined B=build-asan integration
tier valgrind make -j"$jobs" B=build valgrind
tier e2e make -j"$jobs" B=build e2e

totals=$(awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }' \
	"$RATELOG_TALLY")
passed=${totals% *}
failed=${totals#* }
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit $status
