#!/bin/sh
# Run one tier of cmocka test binaries and print the tier's totals.
#
#   tests/run-tier.sh NAME BIN...
#
# Each cmocka binary prints its own summary; this adds them up, prints
# "NAME: N passed, N failed" and appends "N M" to $RATELOG_TALLY when set
# (tests/run-all.sh adds the tiers up).  Set VALGRIND to run each binary
# under it.  Exits non-zero when a test failed or a binary crashed.
set -u
name=$1
shift
passed=0
failed=0
status=0
for bin in "$@"; do
	out=$(mktemp)
	# shellcheck disable=SC2086
	${VALGRIND:-} "$bin" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Crashed, or a sanitizer or valgrind stopped it: count it.
		echo "$bin: exited with status $rc" >&2
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || status=1
	rm -f "$out"
done
echo "$name: $passed passed, $failed failed"
[ -n "${RATELOG_TALLY:-}" ] && echo "$passed $failed" >>"$RATELOG_TALLY"
exit $status
