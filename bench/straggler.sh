#!/usr/bin/env bash
# straggler.sh: training examples/s of the healthy workers while one worker is stopped.
# 1 server + 3 workers (oversubscribed on small machines) train an FM (dim 64, as
# tests/t_straggler.sh) on rows generated on the fly (data.source: generate); after WARM seconds of training worker 2 (rank 3) gets
# SIGSTOP for STOP seconds, then SIGCONT. From server 0's progress lines (one a second):
#   all3   examples/s of the 3 workers over the WARM seconds before the stop
#   during examples/s of the other 2 over the stop (its first second left out)
#   after  examples/s from SIGCONT to the end (the stopped worker catching up alone)
# A benchmark, not a test: it prints figures and never fails on them. Results go to
# docs/BENCHMARKS.md by hand, with the date.
#
#   bash bench/straggler.sh [REPEATS=3] [STALENESS=1000] [STOP=10]
# Environment: PSREC_BIN (default build/psrec), IDLE (cluster.idle; unset: not in the config),
# BATCH (4096), DIM (64), STEPS (max_steps per worker, 600: enough that the others are still
# training at the end of the stop; the `leader` figure says where they were), WARM (3),
# BENCH_DIR (build/bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
psrec=${PSREC_BIN:-$root/build/psrec}
repeats=${1:-3}
staleness=${2:-1000}
stop=${3:-10}
batch=${BATCH:-4096}
dim=${DIM:-64}
steps=${STEPS:-600}
warm=${WARM:-3}
idle=${IDLE:-} # empty: the key is left out (its default, or a psrec from before it existed)
work=${BENCH_DIR:-$root/build/bench}/straggler
mkdir -p "$work"
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "job: 1 server + 3 workers, fm dim $dim, batch $batch, $steps steps per worker, staleness $staleness, cluster.idle ${idle:-default};" \
  "worker 2 stopped after ${warm}s for ${stop}s"

cfg=$work/job.yaml
cat > "$cfg" <<YAML
cluster:
  servers: 1
${idle:+  idle: $idle}
data:
  source: generate
  gen_rows: 1000000000
  gen_seed: 5
model:
  type: fm
  dim: $dim
optimizer:
  lr: 0.002
  clip_norm: 10
train:
  batch_size: $batch
  max_staleness: $staleness
  seed: 3
  progress_seconds: 1
YAML

PL='psrec\[0 server\]: progress:'
# "SECONDS EXAMPLES" of a progress line of FILE: `line FILE head|tail`
line() { grep "$PL" "$1" | "$2" -n 1 | tr ' ' '\n' | sed -n 's/^elapsed=\(.*\)s$/\1/p; s/^examples=//p' |
  tr '\n' ' ' | awk '{print $2, $1}'; }
# examples/s between two such points
rate() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
  printf "%.0f", (y[1] > x[1] ? (y[2] - x[2]) / (y[1] - x[1]) : 0) }'; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
rank_pid() {
  local p
  for p in $(pgrep -f -- "$1"); do
    if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"; return 0
    fi
  done
  return 1
}

all3=() during=() after=()
for i in $(seq "$repeats"); do
  out=$work/run$i.out
  mpirun --oversubscribe --bind-to none -np 4 "$psrec" train -c "$cfg" \
    --set train.max_steps="$steps" > "$out" 2> "$work/run$i.err" &
  mp=$!
  until grep -q "$PL" "$out"; do sleep 0.1; done
  sleep "$warm"
  pid=$(rank_pid "$cfg" 3)
  p0=$(line "$out" head) p1=$(line "$out" tail)
  kill -STOP "$pid"
  sleep 1
  p2=$(line "$out" tail)
  sleep $((stop - 1))
  p3=$(line "$out" tail)
  leader=$(grep "$PL" "$out" | tail -n 1 | tr ' ' '\n' | sed -n 's/^step=//p')
  kill -CONT "$pid"
  wait "$mp" || { echo "run $i failed:" >&2; tail -n 20 "$work/run$i.err" >&2; exit 1; }
  p4=$(line "$out" tail)
  r_all=$(rate "$p0" "$p1") r_dur=$(rate "$p2" "$p3") r_aft=$(rate "$p3" "$p4")
  echo "run $i: all3 $r_all  during $r_dur  after $r_aft  examples/s; leader at step $leader at the end of the stop" \
    "($(grep '^result:' "$out" | tr ' ' '\n' | grep '^examples='))"
  all3+=("$r_all") during+=("$r_dur") after+=("$r_aft")
done
echo "median examples/s: all3 $(printf '%s\n' "${all3[@]}" | median)" \
  "during $(printf '%s\n' "${during[@]}" | median)" \
  "after $(printf '%s\n' "${after[@]}" | median)"
