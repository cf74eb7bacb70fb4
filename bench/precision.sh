#!/usr/bin/env bash
# precision.sh: embedding.precision fp32 vs fp16 with 1 server + 1 worker, FM (dim 16), on ROWS
# generated rows (data.source: generate, planted model seed 1, 100k test rows): bytes per
# row held by the server (its `bytes` figure over its rows), the server's peak RSS, and AUC.
# A benchmark, not a test; results go to docs/BENCHMARKS.md by hand.
#
#   bash bench/precision.sh [ROWS=2000000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
psrec=${PSREC_BIN:-$root/build/psrec}
rows=${1:-2000000}
work=${BENCH_DIR:-$root/build/bench}/precision
mkdir -p "$work"
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
steps=$(( (2 * rows + 1023) / 1024 ))
cat > "$work/job.yaml" <<YAML
cluster: {servers: 1}
data: {source: generate, gen_rows: $rows, gen_test_rows: 100000, gen_seed: 1}
model: {type: fm, dim: 16}
optimizer: {lr: 0.003, clip_norm: 10, decay: linear, decay_steps: $steps}
train: {epochs: 2, batch_size: 1024, max_staleness: 1, seed: 1, progress_seconds: 30}
YAML
for p in fp32 fp16; do
  mpirun --oversubscribe --bind-to none -np 2 \
    bash -c 'exec /usr/bin/time -f "maxrss_kb=%M" -o "$0/time.$OMPI_COMM_WORLD_RANK" "${@}"' "$work" \
    "$psrec" train -c "$work/job.yaml" --set embedding.precision=$p > "$work/$p.out" 2> "$work/$p.err" ||
    { cat "$work/$p.err" >&2; exit 1; }
  line=$(grep 'server 0:' "$work/$p.out")
  r=$(echo "$line" | sed 's/.* rows=\([0-9]*\).*/\1/'); b=$(echo "$line" | sed 's/.* bytes=\([0-9]*\).*/\1/')
  # per row: key 8 + w|m|v 3 x 17 x (4 or 2) + step and last 16 bytes; `bytes` is the rows in
  # use (rows x that); the process also holds spare capacity (up to 2x rows) and the index
  # (16-byte slots, 2 to 4 per row)
  printf '%s: rows=%s server_bytes=%s row_bytes=%d (+ index 32-64) server_peak_rss=%.1f MiB %s\n' \
    "$p" "$r" "$b" "$([ $p = fp32 ] && echo $((8 + 3 * 17 * 4 + 16)) || echo $((8 + 3 * 17 * 2 + 16)))" \
    "$(sed -n 's/maxrss_kb=//p' "$work/time.0" | awk '{print $1/1024}')" \
    "$(grep '^result:' "$work/$p.out" | cut -d' ' -f2-3)"
done
