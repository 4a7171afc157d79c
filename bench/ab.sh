#!/usr/bin/env bash
# A/B benchmark: sockwave vs ws on one wsload scenario, interleaved, server pinned to core 0 and
# the load generator to core 1. Prints each run's RESULT line and the medians.
#   bench/ab.sh "<wsload args>" [--deflate] [rounds]
# e.g. bench/ab.sh "broadcast -c 1000 -B 8 -s 16384 -z -t 3" --deflate 5
#      bench/ab.sh "echo -c 64 -P 16 -s 16 -t 3" "" 5
set -euo pipefail
cd "$(dirname "$0")/.."
args=${1:?wsload arguments}
deflate=${2:-}
rounds=${3:-3}
mkdir -p .bench
[ -x .bench/wsload ] || cc -O2 -DHAVE_ZLIB ../shared/loadgen/wsload.c -lz -o .bench/wsload
[ -f dist/index.js ] || npm run build >/dev/null
mode=${args%% *}
metric=msgs_per_s
[ "$mode" = idle ] && metric=bytes_per_conn
[ "$mode" = connect ] && metric=conns_per_s
declare -A values
for round in $(seq "$rounds"); do
  for impl in sockwave ws; do
    port=$((20000 + RANDOM % 20000))
    out=$(mktemp)
    taskset -c 0 node "bench/servers/$impl.mjs" "$port" $deflate >"$out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
    line=$(taskset -c 1 .bench/wsload $args -p "$port" -S "$pid" 2>/dev/null | grep '^RESULT' || true)
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
    echo "$impl round $round: ${line#RESULT }"
    value=$(sed -n "s/.* $metric=\([0-9.]*\).*/\1/p" <<<"$line")
    values[$impl]="${values[$impl]:-} ${value:-0}"
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
s=$(median "${values[sockwave]}"); w=$(median "${values[ws]}")
echo "median $metric: sockwave $s, ws $w, ratio $(awk -v s="$s" -v w="$w" 'BEGIN {printf "%.2f", (w > 0 ? s / w : 0)}')"
