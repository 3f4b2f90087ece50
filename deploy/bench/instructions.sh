#!/bin/sh
# instructions.sh [SIZE] [BIN]: instructions executed by `apitap read` on a
# generated capture of realistic API traffic (`apitap-gen realistic`: JSON
# bodies, gzip on a third of the responses, personal data, many users), by
# the naive baseline, by the pipeline alone and with every default
# analyzer, counted by valgrind (cachegrind). Unlike wall time
# the counts do not move with the load of a shared machine, so they show
# what a change to a hot path saves. (Instructions are not time: cache
# misses and branch mispredictions are not counted.) Needs valgrind and
# `make build`. GODEBUG=cpu.rdtscp=off: valgrind 3.19 (Debian 12) does not
# know RDTSCP, which the Go runtime's clock uses when the CPU has it.
set -eu
size=${1:-100MB}
bin=${2:-bin}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
specs=$(dirname "$0")/../../testdata/specs
"$bin/apitap-gen" realistic -o "$dir/real.pcap" -size "$size" -specs "$specs" >/dev/null
printf 'analyzers:\n' >"$dir/pipeline.yaml"
printf 'analyzers: {}\n' >"$dir/empty.yaml"
for a in $("$bin/apitap" config check "$dir/empty.yaml" | sed -n 's/^#  *[0-9]*\. *\([a-z_]*\) .*/\1/p'); do
	printf '  %s: {enabled: false}\n' "$a" >>"$dir/pipeline.yaml"
done
count() {
	GOGC=${GOGC:-100} GODEBUG=cpu.rdtscp=off GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
		"$bin/apitap" read --workers 1 --emit stats "$@" "$dir/real.pcap" 2>&1 >/dev/null |
		awk '/I *refs/ {gsub(",", "", $NF); print $NF}'
}
naive() {
	GODEBUG=cpu.rdtscp=off GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
		"$bin/apitap-naive" "$dir/real.pcap" 2>&1 >/dev/null |
		awk '/I *refs/ {gsub(",", "", $NF); print $NF}'
}
tx=$("$bin/apitap" read --workers 1 --emit stats --quiet "$dir/real.pcap" | sed -n 's/.*"transactions":\([0-9]*\).*/\1/p')
nv=$(naive)
pipe=$(count --config "$dir/pipeline.yaml")
all=$(count)
# with the collector on, counts move by about 5% from run to run (GC
# pacing follows wall time); without it they repeat to 0.1%
pipe0=$(GOGC=off count --config "$dir/pipeline.yaml")
all0=$(GOGC=off count)
awk -v nv="$nv" -v p="$pipe" -v a="$all" -v p0="$pipe0" -v a0="$all0" -v n="$tx" -v size="$size" 'BEGIN {
	printf "realistic mix (%s), %d transactions\n", size, n
	printf "%-22s %15s %12s %14s\n", "program", "instructions", "per tx", "vs naive"
	printf "%-22s %15.0f %12.0f %13.2fx\n", "naive baseline", nv, nv / n, 1
	printf "%-22s %15.0f %12.0f %13.2fx\n", "apitap, pipeline", p, p / n, nv / p
	printf "%-22s %15.0f %12.0f %13.2fx\n", "apitap, all analyzers", a, a / n, nv / a
	printf "analyzers: %.0f instructions per transaction, %.2fx the pipeline alone\n", (a - p) / n, a / p
	printf "without the garbage collector (GOGC=off; repeatable): pipeline %.0f, all analyzers %.0f per transaction\n", p0 / n, a0 / n
}'
