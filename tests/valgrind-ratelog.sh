#!/bin/sh
# The plugin under valgrind, for the integration tests' valgrind tier:
# RATELOG_BIN points here and RATELOG_REAL_BIN at the binary.  Any error,
# or a definite or indirect leak at exit, makes the exit status 99, which
# the harness reports as a failed teardown.
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--error-exitcode=99 "$RATELOG_REAL_BIN" "$@"
