#!/usr/bin/env bash
# stream_rss.sh: training rows/s and peak RSS per rank while streaming ROWS rows through
# 1 server + 1 worker (LR, one epoch, batch 4096), from .psrb block files and from the
# generated source (data.source: generate). Shows that a worker's memory does not grow with the
# number of rows. A benchmark, not a test; results go to docs/BENCHMARKS.md by hand.
#
#   bash bench/stream_rss.sh SOURCE ROWS [REPEATS=1]     SOURCE: generate | blocks
# blocks: generates ROWS Criteo rows with `psrec gen`, converts them with `psrec prep` (timed),
# deletes the text, and trains on the blocks. Needs about 250 bytes of disk per row while
# converting. Needs a built tree (bash launch/setup.sh) and GNU time (/usr/bin/time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
psrec=${PSREC_BIN:-$root/build/psrec}
source_kind=${1:?usage: stream_rss.sh generate|blocks ROWS [REPEATS]}
rows=${2:?usage: stream_rss.sh generate|blocks ROWS [REPEATS]}
repeats=${3:-1}
work=${BENCH_DIR:-$root/build/bench}/stream
mkdir -p "$work"
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
cat > "$work/job.yaml" <<YAML
cluster: {servers: 1}
model: {type: lr}
optimizer: {lr: 0.01}
train: {epochs: 1, batch_size: 4096, max_staleness: 1, seed: 1, progress_seconds: 30}
YAML
case $source_kind in
  generate)
    sets=(--set data.source=generate --set data.gen_rows=$rows --set data.gen_seed=1) ;;
  blocks)
    blk=$work/blocks-$rows
    if [ ! -f "$blk/train/train.tsv.psrb" ]; then
      rm -rf "$work/text-$rows" "$blk"
      "$psrec" gen --rows "$rows" --test-rows 1000 --seed 1 --out "$work/text-$rows" > /dev/null
      printf 'data: {train: [%s], test: [%s]}\n' "$work/text-$rows/train.tsv" "$work/text-$rows/test.tsv" \
        > "$work/prep.yaml"
      /usr/bin/time -f "prep_maxrss_kb=%M" "$psrec" prep -c "$work/prep.yaml" --out "$blk" 2>&1 |
        grep -E '^result:|prep_maxrss' | sed 's/^/prep /'
      rm -rf "$work/text-$rows"
    fi
    sets=(--set "data.train=[$blk/train/*.psrb]" --set "data.test=[$blk/test/*.psrb]") ;;
  *) echo "stream_rss.sh: SOURCE must be generate or blocks, not '$source_kind'" >&2; exit 2 ;;
esac
rates=() rss_s=() rss_w=()
for i in $(seq "$repeats"); do
  mpirun --oversubscribe --bind-to none -np 2 \
    bash -c 'exec /usr/bin/time -f "maxrss_kb=%M" -o "$0/time.$OMPI_COMM_WORLD_RANK" "${@}"' "$work" \
    "$psrec" train -c "$work/job.yaml" "${sets[@]}" > "$work/run.out" 2> "$work/run.err" ||
    { cat "$work/run.err" >&2; exit 1; }
  rates+=("$(sed -n 's/^result:.*examples_per_sec=\([0-9.]*\).*/\1/p' "$work/run.out")")
  rss_s+=("$(sed -n 's/maxrss_kb=//p' "$work/time.0")")
  rss_w+=("$(sed -n 's/maxrss_kb=//p' "$work/time.1")")
done
printf '%s %s rows: rows/s median %s (runs: %s); peak RSS server %s MiB, worker %s MiB; %s\n' \
  "$source_kind" "$rows" "$(printf '%s\n' "${rates[@]}" | median)" "${rates[*]}" \
  "$(printf '%s\n' "${rss_s[@]}" | median | awk '{printf "%.1f", $1/1024}')" \
  "$(printf '%s\n' "${rss_w[@]}" | median | awk '{printf "%.1f", $1/1024}')" \
  "$(grep 'time split' "$work/run.out" | sed 's/.*time split: //')"
