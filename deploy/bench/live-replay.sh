#!/usr/bin/env bash
# Live capture measurement: replays a generated API capture with tcpreplay
# at top speed onto one end of a veth pair and captures the other end with
# `apitap run`; then compares with `apitap read` of the same file.
# Needs root, iproute2 and tcpreplay (apt-get install tcpreplay).
# Usage: deploy/bench/live-replay.sh [SIZE] [WORKERS] [RING_MB] [MIX]   (default 200MB 2 64 bench)
# MIX: bench (keep-alive GETs with JSON bodies of 1-64 KB) or realistic
# (the realistic API mix of make bench, from testdata/specs). The sensor
# runs with its default analyzers.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE=${1:-200MB}
WORKERS=${2:-2}
RING=${3:-64}
MIX=${4:-bench}
command -v tcpreplay >/dev/null || { echo "needs tcpreplay (apt-get install tcpreplay)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (veth and AF_PACKET)" >&2; exit 2; }
CGO_ENABLED=0 go build -o bin/apitap ./sensor/cmd/apitap
go build -o bin/apitap-gen ./tools/apitap-gen
dir=$(mktemp -d)
A=aprpl0; B=aprpl1
cleanup() { ip link del "$A" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
ip link del "$A" 2>/dev/null || true
ip link add "$A" type veth peer name "$B"
ip link set "$A" up; ip link set "$B" up
case "$MIX" in
bench) gen=$(./bin/apitap-gen bench -o "$dir/replay.pcap" -size "$SIZE") ;;
realistic) gen=$(./bin/apitap-gen realistic -o "$dir/replay.pcap" -size "$SIZE" -specs testdata/specs) ;;
*) echo "MIX is bench or realistic, not $MIX" >&2; exit 2 ;;
esac
echo "generated: $gen"
./bin/apitap run -i "$B" --workers "$WORKERS" --ring-mb "$RING" --emit stats --sensor-id replay -o "$dir/live.jsonl" 2> "$dir/live.err" &
pid=$!
for _ in $(seq 100); do grep -q capturing "$dir/live.err" && break; sleep 0.1; done
tcpreplay -i "$A" --topspeed "$dir/replay.pcap" > "$dir/replay.out" 2>&1
sleep 2
kill -TERM "$pid"; wait "$pid"
./bin/apitap read --emit stats --sensor-id replay --quiet "$dir/replay.pcap" > "$dir/offline.jsonl"
num() { grep -o "\"$1\":[0-9]*" "$2" | tail -1 | cut -d: -f2; }
sent=$(grep -Eo 'Actual: [0-9]+ packets' "$dir/replay.out" | grep -Eo '[0-9]+' | head -1)
rate=$(grep -Eo '[0-9.]+ pps' "$dir/replay.out" | head -1)
kernel=$(grep kernel "$dir/live.err" | sed 's/^ *kernel *//')
echo
echo "| replay | value |"
echo "|---|---|"
echo "| capture | $SIZE $MIX generated, $(num packets "$dir/offline.jsonl") packets, $(num transactions "$dir/offline.jsonl") transactions |"
echo "| tcpreplay --topspeed | $sent packets sent at $rate |"
echo "| apitap run (workers $WORKERS, ring ${RING} MiB each) | $(num packets "$dir/live.jsonl") packets captured, $(num transactions "$dir/live.jsonl") transactions |"
echo "| kernel (PACKET_STATISTICS) | $kernel |"
echo "| apitap read of the same file | $(num transactions "$dir/offline.jsonl") transactions |"
