#!/bin/sh
# instructions.sh [SIZE] [BIN]: instructions executed by `apitap read` on a
# generated capture of small transactions, with the pipeline alone and with
# every default analyzer, counted by valgrind (cachegrind). Unlike wall time
# the counts do not move with the load of a shared machine, so they show
# what a change to a hot path saves. (Instructions are not time: cache
# misses and branch mispredictions are not counted.) Needs valgrind and
# `make build`.
set -eu
size=${1:-100MB}
bin=${2:-bin}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin/apitap-gen" bench -small -o "$dir/small.pcap" -size "$size" >/dev/null
printf 'analyzers:\n' >"$dir/pipeline.yaml"
for a in sensitive attack behavior risk discovery; do
	printf '  %s: {enabled: false}\n' "$a" >>"$dir/pipeline.yaml"
done
count() {
	GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
		"$bin/apitap" read --workers 1 --emit stats "$@" "$dir/small.pcap" 2>&1 >/dev/null |
		awk '/I *refs/ {gsub(",", "", $NF); print $NF}'
}
tx=$("$bin/apitap" read --workers 1 --emit stats --quiet "$dir/small.pcap" | sed -n 's/.*"transactions":\([0-9]*\).*/\1/p')
pipe=$(count --config "$dir/pipeline.yaml")
all=$(count)
awk -v p="$pipe" -v a="$all" -v n="$tx" 'BEGIN {
	printf "small capture, %d transactions\n", n
	printf "%-12s %15s %12s\n", "program", "instructions", "per tx"
	printf "%-12s %15.0f %12.0f\n", "apitap", p, p / n
	printf "%-12s %15.0f %12.0f\n", "apitap+all", a, a / n
	printf "analyzers: %.0f instructions per transaction, %.2fx the pipeline alone\n", (a - p) / n, a / p
}'
