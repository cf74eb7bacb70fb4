#!/usr/bin/env bash
# recsys.sh: quality and speed of the user-item models, 1 server + 1 worker. A benchmark, not
# a test: it prints figures and never fails on them. Results go to docs/BENCHMARKS.md by hand,
# with the date.
#
#   bash bench/recsys.sh movielens [REPEATS=5]   MF (cluster-configs/movielens.yaml) RMSE and
#                                               wall time on ml-latest-small/ratings.csv
#   bash bench/recsys.sh topk [REPEATS=3]        MF-BPR, NeuMF and pop on the same ratings,
#                                               leave-last-out, full and sampled (100) protocols
#   bash bench/recsys.sh speed [ROWS=10000000] [REPEATS=5]
#                                               MF (dim 32, mse) ratings/s per worker core on
#                                               ROWS generated ratings (psrec gen --kind ratings),
#                                               csv text and prep blocks in file order, text
#                                               shuffled (100000), blocks with rowwise_adagrad
# MOVIELENS=DIR overrides the MovieLens directory (default ../shared/data/ml-latest-small
# beside the repository); the movielens and topk sets are skipped when ratings.csv is absent.
# Needs a built psrec (bash launch/setup.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
psrec=${PSREC_BIN:-$root/build/psrec}
what=${1:-movielens}
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1
work=${BENCH_DIR:-$root/build/bench}
mkdir -p "$work"
ml=${MOVIELENS:-$root/../shared/data/ml-latest-small}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%Y-%m-%d)"

# field NAME FILE: the value of NAME= on the result: line
field() { grep '^result:' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run NAME REPEATS KEY... -- ARGS: REPEATS runs; prints the medians of seconds and of each KEY
run() {
  local name=$1 reps=$2
  shift 2
  local keys=()
  while [ "$1" != -- ]; do keys+=("$1"); shift; done
  shift
  local out=$work/recsys-$name.out
  : > "$work/recsys-$name.all"
  for i in $(seq "$reps"); do
    /usr/bin/env time -f "%e" -o "$work/recsys.time" \
      mpirun -np 2 "$psrec" train "$@" > "$out" 2> "$work/recsys-$name.err" ||
      { echo "$name: failed: $(tail -n 3 "$work/recsys-$name.err")"; return 1; }
    local line="wall=$(cat "$work/recsys.time") seconds=$(field seconds "$out")"
    for k in "${keys[@]}"; do line="$line $k=$(field "$k" "$out")"; done
    echo "$line" >> "$work/recsys-$name.all"
  done
  local summary="$name (median of $reps):"
  for k in wall seconds "${keys[@]}"; do
    summary="$summary $k=$(tr ' ' '\n' < "$work/recsys-$name.all" | sed -n "s/^$k=//p" | median)"
  done
  echo "$summary  [$(grep "^result:" "$out" | grep -o "protocol=.*split=[a-z_]*\|split=[a-z_]*")]"
  echo "  time split: $(cat "$out" "$work/recsys-$name.err" | grep -m1 "time split" | sed "s/.*time split: //")"
}

case $what in
movielens)
  [ -f "$ml/ratings.csv" ] || { echo "skipped: $ml/ratings.csv not found"; exit 0; }
  reps=${2:-5}
  run mf-movielens "$reps" rmse mae examples_per_sec -- \
    -c "$root/cluster-configs/movielens.yaml" --set "data.train=$ml/ratings.csv"
  ;;
topk)
  [ -f "$ml/ratings.csv" ] || { echo "skipped: $ml/ratings.csv not found"; exit 0; }
  reps=${2:-3}
  base=(-c "$root/cluster-configs/movielens.yaml" --set "data.train=$ml/ratings.csv"
        --set data.split=leave_last_out --set eval.task=topk)
  for proto in full sampled; do
    m=(hr@10 ndcg@10 coverage@10 novelty@10)
    run "pop-$proto" "$reps" "${m[@]}" -- "${base[@]}" --set model.type=pop \
      --set train.epochs=1 --set eval.protocol=$proto
    run "mf-bpr-$proto" "$reps" "${m[@]}" -- "${base[@]}" --set model.type=mf \
      --set model.loss=bpr --set model.l2=0 --set optimizer.lr=0.02 --set train.epochs=15 \
      --set eval.protocol=$proto
    run "neumf-$proto" "$reps" "${m[@]}" -- "${base[@]}" --set model.type=neumf \
      --set model.dim=16 --set optimizer.lr=0.005 --set model.l2=0 --set train.epochs=10 \
      --set eval.protocol=$proto
  done
  ;;
speed)
  rows=${2:-10000000}
  reps=${3:-5}
  data=$work/ratings-$rows
  [ -f "$data/optimum.txt" ] ||
    "$psrec" gen --kind ratings --rows "$rows" --test-rows 100000 --users 100000 --items 20000 \
      --seed 1 --out "$data" > /dev/null
  echo "data: $rows ratings ($(du -h "$data/train.csv" | cut -f1)), $(cat "$data/optimum.txt")"
  [ -d "$data/blk" ] ||
    "$psrec" prep -c "$root/cluster-configs/movielens.yaml" --set "data.train=$data/train.csv" \
      --set "data.test=$data/test.csv" --out "$data/blk" > /dev/null 2>&1
  # one epoch, batch 4096; `seconds` is the training loop, `wall` adds start-up, the item
  # catalogue pass over the data and the evaluation
  common=(-c "$root/cluster-configs/movielens.yaml" --set data.split=files --set train.epochs=1
          --set train.batch_size=4096)
  text=(--set "data.train=$data/train.csv" --set "data.test=$data/test.csv")
  blk=(--set "data.train=$data/blk/train/train.csv.psrb" --set "data.test=$data/blk/test/test.csv.psrb")
  run mf-speed-text "$reps" rmse examples_per_sec -- "${common[@]}" "${text[@]}" --set data.shuffle_buffer=0
  run mf-speed-blocks "$reps" rmse examples_per_sec -- "${common[@]}" "${blk[@]}" --set data.shuffle_buffer=0
  run mf-speed-text-shuffled "$reps" rmse examples_per_sec -- "${common[@]}" "${text[@]}" \
    --set data.shuffle_buffer=100000
  run mf-speed-blocks-rowwise "$reps" rmse examples_per_sec -- "${common[@]}" "${blk[@]}" \
    --set data.shuffle_buffer=0 --set embedding.optimizer=rowwise_adagrad --set optimizer.lr=0.05
  ;;
*)
  echo "usage: bash bench/recsys.sh movielens|topk|speed [...]" >&2
  exit 2
  ;;
esac
