# shellcheck shell=sh
# Sourced by the benches that report medians of alternating rounds: the awk
# function median(a, k), the median of a[1] .. a[k] (it sorts them), to put
# in front of an awk program.
# shellcheck disable=SC2034
MEDIAN_AWK='
function median(a, k,    i, j, t) {
	for (i = 1; i <= k; i++)
		for (j = i + 1; j <= k; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}'
