#!/usr/bin/env bash
# train_throughput.sh: training examples/s and peak RSS per rank for LR and FM with
# 1 server + 1 worker on generated Criteo-format rows. A benchmark, not a test: it prints
# figures and never fails on them. Results go to docs/BENCHMARKS.md by hand, with the date.
#
#   bash bench/train_throughput.sh [ROWS=1000000] [REPEATS=5] [SET=sparse|deep]
# sparse: lr and fm. deep: dlrm (26 x 16-dim embeddings, bottom 13-512-256-16, top
# 512-256-1) and deepfm (mlp 400-400-400, 16-dim) with dense_sync allreduce and ps.
# INPUT=blocks (environment) trains on .psrb blocks made from the same text by `psrec prep`
# instead of the text itself.
# Needs a built psrec (bash launch/setup.sh) and GNU time (/usr/bin/time, package "time").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
psrec=${PSREC_BIN:-$root/build/psrec}
rows=${1:-1000000}
repeats=${2:-5}
set_name=${3:-sparse}
if [ "$set_name" = deep ]; then
  deep="--set model.dim=16 --set model.bottom_mlp=[512,256,16] --set model.top_mlp=[512,256,1] --set model.mlp=[400,400,400]"
  specs=("dlrm-allreduce|--set model.type=dlrm --set train.dense_sync=allreduce $deep"
         "dlrm-ps|--set model.type=dlrm --set train.dense_sync=ps $deep"
         "deepfm-allreduce|--set model.type=deepfm --set train.dense_sync=allreduce $deep"
         "deepfm-ps|--set model.type=deepfm --set train.dense_sync=ps $deep")
else
  specs=("lr|--set model.type=lr" "fm|--set model.type=fm")
fi
work=${BENCH_DIR:-$root/build/bench}
mkdir -p "$work"
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

data=$work/data-$rows
[ -f "$data/optimum.txt" ] || "$psrec" gen --rows "$rows" --test-rows 100000 --seed 1 --out "$data" >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "data: $rows rows ($(du -h "$data/train.tsv" | cut -f1)), $(cat "$data/optimum.txt")"
train_in=$data/train.tsv test_in=$data/test.tsv
if [ "${INPUT:-text}" = blocks ]; then
  if [ ! -d "$data/blocks" ]; then
    printf 'data: {train: [%s], test: [%s]}\n' "$data/train.tsv" "$data/test.tsv" > "$work/prep.yaml"
    "$psrec" prep -c "$work/prep.yaml" --out "$data/blocks" > /dev/null
  fi
  train_in="$data/blocks/train/*.psrb" test_in="$data/blocks/test/*.psrb"
  echo "input: .psrb blocks ($(du -ch "$data"/blocks/train/*.psrb | tail -n 1 | cut -f1))"
fi

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for spec in "${specs[@]}"; do
  model=${spec%%|*}
  # shellcheck disable=SC2206
  sets=(${spec#*|})
  rates=() rss_s=() rss_w=() aucs=()
  for i in $(seq "$repeats"); do
    # each rank under its own GNU time, so peak RSS is per rank
    mpirun --oversubscribe --bind-to none -np 2 \
      bash -c 'exec /usr/bin/time -f "maxrss_kb=%M" -o "$0/time.$OMPI_COMM_WORLD_RANK" "${@}"' "$work" \
      "$psrec" train -c "$root/cluster-configs/local.yaml" \
      --set "data.train=[$train_in]" --set "data.test=[$test_in]" \
      --set optimizer.decay=none "${sets[@]}" > "$work/run.out" 2> "$work/run.err" || { cat "$work/run.err" >&2; exit 1; }
    rates+=("$(grep '^result:' "$work/run.out" | sed 's/.*examples_per_sec=\([0-9.]*\).*/\1/')")
    aucs+=("$(grep '^result:' "$work/run.out" | sed 's/.*auc=\([0-9.]*\).*/\1/')")
    rss_s+=("$(sed -n 's/maxrss_kb=//p' "$work/time.0")")
    rss_w+=("$(sed -n 's/maxrss_kb=//p' "$work/time.1")")
  done
  split=$(grep 'time split' "$work/run.out" | sed 's/.*time split: //')
  printf '%s: examples/s median %s (runs: %s); auc %s; peak RSS server %s MiB, worker %s MiB; worker %s\n' \
    "$model" "$(printf '%s\n' "${rates[@]}" | median)" "${rates[*]}" "$(printf '%s\n' "${aucs[@]}" | median)" \
    "$(printf '%s\n' "${rss_s[@]}" | median | awk '{printf "%.1f", $1/1024}')" \
    "$(printf '%s\n' "${rss_w[@]}" | median | awk '{printf "%.1f", $1/1024}')" "$split"
done
