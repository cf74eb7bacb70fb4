#!/usr/bin/env bash
# ckpt_throughput.sh: checkpoint write and restore throughput (MB/s of raw parameter bytes)
# and compression ratio for one server's table of ROWS rows, through the server's own
# checkpoint code (bench/ckpt_bench.c), for each zlib level in LEVELS. Medians of REPEATS
# runs. A benchmark, not a test. Results go to docs/BENCHMARKS.md by hand, with the date.
#
#   bash bench/ckpt_throughput.sh [ROWS=10000000] [REPEATS=3] [LEVELS="0 1"] [DIM=8]
# Needs a built tree (bash launch/setup.sh) and GNU time (/usr/bin/time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${CKPT_BENCH_BIN:-$root/build/ckpt_bench}
rows=${1:-10000000}
repeats=${2:-3}
levels=${3:-"0 1"}
dim=${4:-8}
work=${BENCH_DIR:-$root/build/bench}/ckpt
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x "$bench" ] || { echo "bench: $bench not built (bash launch/setup.sh)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "# $(date -u +%Y-%m-%d) $(uname -n) $(nproc) cores; rows=$rows dim=$dim repeats=$repeats"
for level in $levels; do
  w=(); r=(); ratio=""; rss=""
  for i in $(seq 1 "$repeats"); do
    rm -rf "$work"
    out=$(/usr/bin/time -f "peak_rss_kb=%M" "$bench" "$work" "$rows" "$dim" "$level" 2>&1)
    w+=("$(echo "$out" | sed -n 's/^write:.*raw_mb_per_sec=\([0-9.]*\).*/\1/p')")
    r+=("$(echo "$out" | sed -n 's/^restore:.*raw_mb_per_sec=\([0-9.]*\).*/\1/p')")
    ratio=$(echo "$out" | sed -n 's/.*ratio=\([0-9.]*\).*/\1/p')
    rss=$(echo "$out" | sed -n 's/^peak_rss_kb=//p')
    echo "  level $level run $i: $(echo "$out" | grep -E '^(write|restore):' | tr '\n' ' ')"
  done
  echo "level=$level write_mb_per_sec=$(printf '%s\n' "${w[@]}" | median)" \
       "restore_mb_per_sec=$(printf '%s\n' "${r[@]}" | median) ratio=$ratio peak_rss_kb=$rss" \
       "(write runs: ${w[*]}; restore runs: ${r[*]})"
done
rm -rf "$work"
