# lib.sh: helpers for the shell tests (tests/t_*.sh), sourced with the psrec binary as $1
# and a scratch directory as $2. Every check prints what it expected and what it saw.
set -euo pipefail
PSREC=$1
WORK=$2
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OPENBLAS_NUM_THREADS=1
CHECKS=0

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { CHECKS=$((CHECKS + 1)); echo "ok: $*"; }

# mpirun with a hard time limit: a hung job is a failure, never a stuck test suite.
# usage: mpi SECONDS NP [mpirun flags ...] -- psrec args...
mpi() {
  local secs=$1 np=$2
  shift 2
  local extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do extra+=("$1"); shift; done
  [ $# -gt 0 ] || fail "mpi: missing -- before the psrec arguments"
  shift
  timeout -k 10 "$secs" mpirun --oversubscribe --bind-to none -np "$np" "${extra[@]}" "$PSREC" "$@"
}

# value of KEY=VALUE on the last line starting with PREFIX in FILE
field() { grep "^$2" "$3" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# |a - b| <= tol ?
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
# a >= b ?
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# a >= b + m ?
ge_by() { awk -v a="$1" -v b="$2" -v m="$3" 'BEGIN { exit !(a >= b + m) }'; }

# write a config for the generated data: base_cfg FILE. Two epochs with the learning rate
# decaying linearly to 0 over the whole run: what gets an FM within 0.01 AUC of the optimum on
# 1M generated rows (a constant rate overfits the frequent ids' factors).
base_cfg() {
  local workers=${WORKERS:-1} epochs=${EPOCHS:-2} rows=${ROWS:-1000000} bs=${BATCH:-512}
  local steps=$(( (epochs * rows + workers * bs - 1) / (workers * bs) ))
  cat > "$1" <<YAML
cluster:
  servers: ${SERVERS:-1}
data:
  train: [$WORK/data/train.tsv]
  test: [$WORK/data/test.tsv]
model:
  type: ${MODEL:-fm}
  dim: 8
optimizer:
  lr: ${LR:-0.003}
  clip_norm: 10
  decay: linear
  decay_steps: $steps
train:
  epochs: $epochs
  batch_size: $bs
  max_staleness: ${STALENESS:-1}
  seed: 3
  progress_seconds: 2
YAML
}

# generated data shared by the training tests: small enough for 2 cores, large enough that an
# FM gets within 0.01 AUC of the planted optimum
gen_data() {
  "$PSREC" gen --rows "${ROWS:-1000000}" --test-rows "${TEST_ROWS:-50000}" --seed "${GEN_SEED:-5}" \
    --out "$WORK/data" "$@" > "$WORK/gen.out"
  OPT_AUC=$(field auc optimum: "$WORK/gen.out")
  OPT_LOGLOSS=$(field logloss optimum: "$WORK/gen.out")
  [ -n "$OPT_AUC" ] || fail "psrec gen printed no optimum line: $(cat "$WORK/gen.out")"
}

# the run in $1 (its stdout) reached AUC within $2 of the optimum
check_auc() {
  local auc
  auc=$(field auc result: "$1")
  [ -n "$auc" ] || fail "no result line in $1: $(tail -n 5 "$1")"
  near "$auc" "$OPT_AUC" "$2" || ge "$auc" "$OPT_AUC" ||
    fail "AUC $auc is not within $2 of the planted optimum $OPT_AUC ($1)"
  ok "AUC $auc within $2 of optimum $OPT_AUC"
}

done_checks() { echo "$CHECKS passed, 0 failed"; }
