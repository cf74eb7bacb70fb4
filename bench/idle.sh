#!/usr/bin/env bash
# idle.sh: what busy-polling costs when ranks share cores, and what cluster.idle: yield gives
# back. An FM (dim 8, batch 1024, staleness 1) trains on ROWS rows generated on the fly, with
#   1s1w  1 server + 1 worker   (2 ranks)
#   1s3w  1 server + 3 workers  (4 ranks: oversubscribed on a 2-core machine)
# each with cluster.idle poll and yield, on the idle machine and with the machine loaded by
# one busy loop (`yes > /dev/null`, pinned to CPU 0 when taskset exists). Prints examples/s
# and the workers' share of time spent waiting on servers (the `time split:` lines),
# medians over REPEATS runs. A benchmark, not a test: results go to docs/BENCHMARKS.md by hand.
#
#   bash bench/idle.sh [REPEATS=3] [ROWS=1000000]
# Environment: PSREC_BIN (default build/psrec), BENCH_DIR (build/bench), LOADS ("0 1").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
psrec=${PSREC_BIN:-$root/build/psrec}
repeats=${1:-3}
rows=${2:-1000000}
work=${BENCH_DIR:-$root/build/bench}/idle
mkdir -p "$work"
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "job: fm dim 8, batch 1024, staleness 1, $rows generated rows, 1 epoch"

cfg=$work/job.yaml
cat > "$cfg" <<YAML
cluster:
  servers: 1
data:
  source: generate
  gen_rows: $rows
  gen_seed: 5
model:
  type: fm
  dim: 8
optimizer:
  lr: 0.003
train:
  batch_size: 1024
  max_staleness: 1
  seed: 3
  progress_seconds: 100
YAML

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
load_pid=""
stop_load() { if [ -n "$load_pid" ]; then kill "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true; load_pid=""; fi; }
trap stop_load EXIT
start_load() {
  if command -v taskset > /dev/null; then taskset -c 0 yes > /dev/null & else yes > /dev/null & fi
  load_pid=$!
}

printf '%-6s %-5s %-5s %-10s %-22s %-8s %s\n' ranks load idle "ex/s" "runs" "wait%" "auto picks"
for load in ${LOADS:-0 1}; do
  [ "$load" = 1 ] && start_load
  for topo in 1s1w 1s3w; do
    np=2; [ "$topo" = 1s3w ] && np=4
    # what cluster.idle: auto resolves to here (the idle: line of a one-step run)
    picked=$(mpirun --oversubscribe --bind-to none -np $np "$psrec" train -c "$cfg" \
      --set train.max_steps=1 2>/dev/null | sed -n 's/.*idle: \([a-z]*\) .*/\1/p' | head -n 1)
    for idle in poll yield; do
      rates=() waits=()
      for i in $(seq "$repeats"); do
        out=$work/$topo-$idle-$load-$i.out
        mpirun --oversubscribe --bind-to none -np $np "$psrec" train -c "$cfg" \
          --set cluster.idle=$idle > "$out" 2> "$out.err" || { tail -n 20 "$out.err" >&2; exit 1; }
        rates+=("$(grep '^result:' "$out" | tr ' ' '\n' | sed -n 's/^examples_per_sec=//p')")
        # mean over the workers of wait / total seconds, in percent
        waits+=("$(sed -n 's/.*time split: .*wait=\([0-9.]*\)s of \([0-9.]*\)s.*/\1 \2/p' "$out" |
          awk '{ s += $1 / $2; n++ } END { printf "%.0f", n ? 100 * s / n : 0 }')")
      done
      printf '%-6s %-5s %-5s %-10s %-22s %-8s %s\n' "$topo" "$load" "$idle" \
        "$(printf '%s\n' "${rates[@]}" | median)" "$(echo "${rates[@]}" | tr ' ' ',')" \
        "$(printf '%s\n' "${waits[@]}" | median)" "$picked"
    done
  done
  stop_load
done
