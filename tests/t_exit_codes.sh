# t_exit_codes: a problem with the job's inputs found after start-up (a data file that does not
# exist, a .gz that is not gzip, a checkpoint that does not match) ends every rank with exit
# status 2 and one `psrec: error:` line, without Open MPI's MPI_ABORT banner; train --help says
# what signals do; the server's bytes= is the rows in use; a worker's time split adds up.
source "$(dirname "$0")/lib.sh"
ROWS=20000 TEST_ROWS=2000 gen_data
cat > job.yaml <<YAML
data:
  train: [$WORK/data/train.tsv]
  test: [$WORK/data/test.tsv]
model: {type: fm, dim: 8}
optimizer: {lr: 0.003}
train: {epochs: 1, batch_size: 256, seed: 3}
YAML

# expect_input_error NAME WHAT-IN-THE-MESSAGE psrec-train-args...: 3 ranks (1 server, 2 workers)
expect_input_error() {
  local name=$1 want=$2
  shift 2
  set +e
  mpi 60 3 -- train -c job.yaml "$@" > "$name.out" 2> "$name.err"
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "$name: exit status $rc, expected 2: $(head -n 5 "$name.err")"
  [ "$(grep -c '^psrec: error:' "$name.err")" -eq 1 ] ||
    fail "$name: expected one 'psrec: error:' line: $(cat "$name.err")"
  grep -q "^psrec: error: .*$want" "$name.err" || fail "$name: message: $(grep 'psrec: error' "$name.err")"
  if grep -q 'MPI_ABORT' "$name.err" "$name.out"; then fail "$name: Open MPI's MPI_ABORT banner"; fi
  ok "$name: exit 2, $(grep '^psrec: error:' "$name.err" | cut -c1-110)"
}

expect_input_error missing_train "data.train: '$WORK/data/nope.tsv': no such file" \
  --set data.train="[$WORK/data/nope.tsv]"
expect_input_error missing_test "data.test: '$WORK/data/nope_test.tsv': no such file" \
  --set data.test="[$WORK/data/nope_test.tsv]"
printf '0\t1\n' > notgzip.gz
expect_input_error not_gzip "notgzip.gz: named .gz but is not gzip data" \
  --set data.train="[$WORK/notgzip.gz]"
# found while the workers prepare the data, after the servers started: the second agreement
expect_input_error no_user_column "data.split is random, which holds out interactions of users with items, but the data have no user column" \
  --set data.split=random

# a checkpoint that does not match the config
mpi 120 3 -- train -c job.yaml --set checkpoint.dir="$WORK/ck" > ck.out 2> ck.err ||
  fail "checkpoint run failed: $(tail -n 5 ck.err)"
expect_input_error ckpt_model "holds a model 'type=fm width=9', but the config asks for 'type=fm width=5'" \
  --set checkpoint.dir="$WORK/ck" --set model.dim=4 --resume auto
expect_input_error ckpt_buckets "bucket" \
  --set checkpoint.dir="$WORK/ck" --set cluster.buckets=1024 --resume auto
# a checkpoint whose global.state is not one (the manifest's CRC still lists the old file)
last=$(ls -d ck/ckpt-* | tail -n 1)
cp -r "$last" ck_bad
printf 'garbage' > ck_bad/global.state
set +e
mpi 60 3 -- train -c job.yaml --resume "$WORK/ck_bad" > gs.out 2> gs.err; rc=$?
set -e
[ $rc -eq 2 ] && [ "$(grep -c '^psrec: error:' gs.err)" -eq 1 ] && ! grep -q MPI_ABORT gs.err ||
  fail "damaged global.state: exit $rc: $(head -n 3 gs.err)"
ok "damaged checkpoint file: exit 2, $(grep '^psrec: error:' gs.err | cut -c1-110)"

# train --help tells what SIGTERM to mpirun really does
"$PSREC" train --help > th.txt
grep -q 'SIGTERM to mpirun itself is Open MPI.s kill' th.txt && grep -q 'about 1 s later' th.txt &&
  grep -q 'SIGUSR1 to mpirun, or SIGTERM, SIGINT or' th.txt && grep -q 'launch/psrec-mpirun' th.txt ||
  fail "train --help on signals: $(grep -A6 '^signals' th.txt)"
grep -q '^exit status: 0 on success or preemption; 2 for a problem with the job.s inputs' th.txt ||
  fail "train --help on exit status"
ok "train --help: SIGTERM to mpirun kills after 1 s; SIGUSR1 / psrec-mpirun checkpoint"

# bytes= is the rows in use: FM dim 8 with Adam, width 9 + 18 state floats, key, step, last:
# 8 + 27 x 4 + 16 = 132 bytes per row
line=$(grep 'server 0: rows=' ck.out)
rows=$(echo "$line" | sed 's/.* rows=\([0-9]*\) .*/\1/'); bytes=$(echo "$line" | sed 's/.* bytes=\([0-9]*\) .*/\1/')
[ "$bytes" -eq $((rows * 132)) ] || fail "bytes=$bytes for $rows rows, expected $((rows * 132))"
ok "server bytes=$bytes = $rows rows x 132 bytes"

# each worker's time split adds up to its total (to the printed hundredths)
n=0
while read -r l; do
  total=$(echo "$l" | sed 's/.* of \([0-9.]*\)s$/\1/')
  sum=$(echo "$l" | sed 's/.*read=\([0-9.]*\)s compute=\([0-9.]*\)s wait=\([0-9.]*\)s other=\([-0-9.]*\)s.*/\1 \2 \3 \4/' |
        awk '{ print $1 + $2 + $3 + $4 }')
  near "$sum" "$total" 0.025 || fail "time split does not add up: $l (sum $sum)"
  ge "$(echo "$l" | sed 's/.*other=\([-0-9.]*\)s.*/\1/')" -0.01 || fail "negative other: $l"
  n=$((n + 1))
done < <(grep 'time split:' ck.out)
[ $n -eq 2 ] || fail "expected 2 time split lines, got $n"
ok "time split adds up on both workers: $(grep -m 1 'time split:' ck.out | sed 's/.*time split: //')"
done_checks
