#!/usr/bin/env bash
# prep_throughput.sh: `psrec prep` rows/s, MB/s of text and output bytes per row at zlib
# levels 0, 1 and 6, and block-reading rows/s with and without the prefetch thread, on
# generated Criteo-format rows. A benchmark, not a test: it prints figures (medians of
# REPEATS runs) and never fails on them. Results go to docs/BENCHMARKS.md by hand.
#
#   bash bench/prep_throughput.sh [ROWS=1000000] [REPEATS=3]
# Reading uses `psrec prep --read`, which hashes every row it returns (a digest): that is
# the consumer's work the prefetch thread overlaps with. wait_seconds is the time the
# consumer waited for decoded blocks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
psrec=${PSREC_BIN:-$root/build/psrec}
rows=${1:-1000000}
repeats=${2:-3}
work=${BENCH_DIR:-$root/build/bench-prep}
mkdir -p "$work"
cd "$work"
[ -f "data-$rows/train.tsv" ] ||
  "$psrec" gen --rows "$rows" --test-rows 0 --seed 1 --out "data-$rows" > /dev/null 2>&1
printf 'data:\n  train: [%s]\n' "$work/data-$rows/train.tsv" > job.yaml

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
val() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

echo "prep of $rows rows ($(stat -c %s "data-$rows/train.tsv") bytes of text), $repeats runs each"
for level in 0 1 6; do
  rs=() ; ms=()
  for _ in $(seq "$repeats"); do
    line=$("$psrec" prep -c job.yaml --out "out-$level" --level "$level" 2> /dev/null | grep '^result:')
    rs+=("$(echo "$line" | val rows_per_sec)")
    ms+=("$(echo "$line" | val mb_per_sec)")
    out=$(echo "$line" | val bytes_out)
  done
  printf 'prep level %d: %s rows/s, %s MB/s of text, %.1f bytes/row\n' "$level" \
    "$(printf '%s\n' "${rs[@]}" | median)" "$(printf '%s\n' "${ms[@]}" | median)" \
    "$(awk -v a="$out" -v b="$rows" 'BEGIN { print a / b }')"
done
for level in 0 1; do
  for pf in 0 3; do
    rs=() ; ws=()
    for _ in $(seq "$repeats"); do
      line=$("$psrec" prep --read "out-$level"/train/*.psrb --prefetch "$pf" | grep '^read: worker=')
      rs+=("$(echo "$line" | val rows_per_sec)")
      ws+=("$(echo "$line" | val wait_seconds)")
    done
    printf 'read level %d, prefetch %d: %s rows/s (waited %s s)\n' "$level" "$pf" \
      "$(printf '%s\n' "${rs[@]}" | median)" "$(printf '%s\n' "${ws[@]}" | median)"
  done
done
