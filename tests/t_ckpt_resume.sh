# t_ckpt_resume: exact resume. With one worker at staleness 0, N steps in one run equal K
# steps, a stop, and a resumed run to N, bit for bit (same digest, metrics, examples and
# example hash), for fm (also with fp16 rows), deepfm with dense parameters all-reduced (and dropout), and dlrm with
# dense parameters on the servers. Also: checkpoint.keep, `psrec ckpt verify|inspect` against
# the job's own digest, and --resume auto with no checkpoint starting fresh.
source "$(dirname "$0")/lib.sh"
ROWS=40000 TEST_ROWS=5000 gen_data
STALENESS=0 ROWS=40000 EPOCHS=2 BATCH=256 base_cfg job.yaml

# values of `result:` without the timing, and the digest and data lines
summary() { echo "$(grep '^digest:' "$1") | $(grep '^data: examples' "$1") | $(grep '^result:' "$1" | cut -d' ' -f2-4)"; }

run_model() {
  local name=$1; shift
  local ck=$WORK/ck-$name
  mpi 120 2 -- train -c job.yaml "$@" > $name-full.out 2> $name-full.err ||
    fail "$name: uninterrupted run failed: $(tail -n 20 $name-full.err)"
  mpi 120 2 -- train -c job.yaml "$@" --set checkpoint.dir=$ck --set checkpoint.every_steps=50 \
    --set checkpoint.keep=2 --set train.max_steps=130 > $name-a.out 2> $name-a.err ||
    fail "$name: first part failed: $(tail -n 20 $name-a.err)"
  local n
  n=$(ls -d $ck/ckpt-* | wc -l)
  [ "$n" -eq 2 ] || fail "$name: checkpoint.keep=2 but $n checkpoints in $ck: $(ls $ck)"
  [ -d $ck/ckpt-000000000130 ] && [ -d $ck/ckpt-000000000100 ] ||
    fail "$name: expected ckpt-...100 and ckpt-...130, found $(ls $ck)"
  [ "$(cat $ck/latest)" = ckpt-000000000130 ] || fail "$name: latest is '$(cat $ck/latest)'"
  ok "$name: checkpoints at 100 and the final 130 kept, 50 pruned, latest names 130"
  "$PSREC" ckpt verify $ck/ckpt-000000000130 > $name-verify.out ||
    fail "$name: ckpt verify failed: $(cat $name-verify.out)"
  local d_job d_ck
  d_job=$(grep '^digest:' $name-a.out | cut -d' ' -f2)
  d_ck=$("$PSREC" ckpt inspect $ck/ckpt-000000000130 | sed -n 's/^digest: //p')
  [ -n "$d_job" ] && [ "$d_job" = "$d_ck" ] ||
    fail "$name: job digest '$d_job' but checkpoint inspect digest '$d_ck'"
  ok "$name: verify passes; inspect digest = the job's digest ($d_job)"
  mpi 120 2 -- train -c job.yaml "$@" --set checkpoint.dir=$ck --resume auto > $name-b.out \
    2> $name-b.err || fail "$name: resumed run failed: $(tail -n 20 $name-b.err)"
  grep -q "resume: checkpoint $ck/ckpt-000000000130 (step 130" $name-b.out ||
    fail "$name: resume did not say which checkpoint: $(grep resume $name-b.out)"
  local s_full s_res
  s_full=$(summary $name-full.out); s_res=$(summary $name-b.out)
  [ "$s_full" = "$s_res" ] || fail "$name: resumed run differs:\n  full:    $s_full\n  resumed: $s_res"
  ok "$name: resumed = uninterrupted, bit for bit: $s_full"
}

run_model fm
run_model fm-fp16 --set embedding.precision=fp16
run_model deepfm-allreduce --set model.type=deepfm --set model.mlp=[16,8] --set model.dropout=0.1 \
  --set train.dense_sync=allreduce
run_model dlrm-ps --set model.type=dlrm --set model.bottom_mlp=[16,8] --set model.top_mlp=[16,1] \
  --set train.dense_sync=ps

# checkpoint.every_seconds is polled at the control points (every 16 steps): a tiny interval
# checkpoints at each of them
mpi 120 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck-time --set checkpoint.every_seconds=1e-9 \
  --set checkpoint.keep=100 --set train.max_steps=64 > time.out 2> time.err ||
  fail "every_seconds run failed: $(tail -n 20 time.err)"
got=$(ls $WORK/ck-time | grep '^ckpt-' | tr '\n' ' ')
want="ckpt-000000000016 ckpt-000000000032 ckpt-000000000048 ckpt-000000000064 "
[ "$got" = "$want" ] || fail "every_seconds: checkpoints '$got', expected '$want'"
ok "checkpoint.every_seconds: checkpoints at the control points 16, 32, 48, 64"

# --resume auto with an empty checkpoint directory: a fresh start, said so
mpi 120 2 -- train -c job.yaml --set checkpoint.dir=$WORK/empty --set train.max_steps=20 \
  --resume auto > fresh.out 2> fresh.err || fail "fresh start failed: $(tail -n 20 fresh.err)"
grep -q "resume: no checkpoint in '$WORK/empty': starting fresh" fresh.out ||
  fail "no 'starting fresh' message: $(grep resume fresh.out)"
ok "--resume auto without checkpoints starts fresh and says so"
done_checks
