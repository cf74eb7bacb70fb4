# t_mf: MF on the planted ratings of `psrec gen --kind ratings` (cluster-configs/movielens.yaml,
# csv text read directly by train): RMSE within 0.03 of the noise level with 1 server + 1
# worker and with 2 servers + 2 workers; the same job from `psrec prep` blocks gives the same
# digest as from the csv text; stopped at a checkpoint and resumed, it ends bit-identical to
# the uninterrupted run, and `ckpt inspect` lists its three tables.
source "$(dirname "$0")/lib.sh"
CFG=${PSREC_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}/cluster-configs/movielens.yaml
[ -f "$CFG" ] || fail "no $CFG"
summary() { grep -E '^(digest|result):' "$1" | sed 's/ seconds=.*//'; }

# ---- explicit ratings ----------------------------------------------------------------------
# 200 ratings per user and 400 per item: enough that a dim-8 MF can get near the noise level
"$PSREC" gen --kind ratings --users 1000 --items 500 --rows 200000 --test-rows 10000 --seed 3 \
  --out "$WORK/r" > gen_r.out || fail "gen ratings: $(cat gen_r.out)"
opt=$(field rmse optimum: gen_r.out)
[ -n "$opt" ] || fail "no optimum rmse: $(cat gen_r.out)"
# the generated rows are sorted by user, as MovieLens' are: shuffle within 200000 rows; the
# learning rate decays linearly to 0 over the run's 10 x 200000 examples, whatever the worker count
base=(-c "$CFG" --set "data.train=$WORK/r/train.csv" --set "data.test=$WORK/r/test.csv"
      --set data.split=files --set model.dim=8 --set model.init_std=0.1 --set model.l2=0.02
      --set optimizer.lr=0.02 --set train.batch_size=512 --set train.progress_seconds=100
      --set data.shuffle_buffer=0)
R=("${base[@]}" --set train.epochs=10 --set data.shuffle_buffer=200000 --set optimizer.decay=linear
   --set optimizer.decay_examples=2000000)
mpi 240 2 -- train "${R[@]}" > mf.out 2> mf.err ||
  fail "mf run failed: $(tail -n 5 mf.err)"
rmse=$(field rmse result: mf.out)
near "$rmse" "$opt" 0.03 || fail "MF RMSE $rmse, planted noise $opt (tolerance 0.03)"
ok "MF 1 server + 1 worker: RMSE $rmse, planted optimum $opt"

mpi 300 4 -- train "${R[@]}" --set cluster.servers=2 \
  > mf22.out 2> mf22.err || fail "mf 2+2 failed: $(tail -n 5 mf22.err)"
rmse22=$(field rmse result: mf22.out)
near "$rmse22" "$opt" 0.03 || fail "MF 2 servers + 2 workers: RMSE $rmse22, optimum $opt"
grep -q "test_examples=10000 " mf22.out || fail "2 workers evaluated $(grep result: mf22.out)"
ok "MF 2 servers + 2 workers: RMSE $rmse22"

# blocks made by prep from the same csv: the same rows in the same order, the same model
"$PSREC" prep "${base[@]}" --out "$WORK/blk" > prep.out 2> prep.err || fail "prep: $(cat prep.err)"
mpi 240 2 -- train "${base[@]}" --set train.epochs=2 > mft.out 2> mft.err ||
  fail "mf on text failed: $(tail -n 5 mft.err)"
mpi 240 2 -- train "${base[@]}" --set train.epochs=2 --set "data.train=$WORK/blk/train/train.csv.psrb" \
  --set "data.test=$WORK/blk/test/test.csv.psrb" > mfb.out 2> mfb.err ||
  fail "mf on blocks failed: $(tail -n 5 mfb.err)"
[ "$(summary mfb.out)" = "$(summary mft.out)" ] ||
  fail "blocks differ from text:\n  text:   $(summary mft.out)\n  blocks: $(summary mfb.out)"
ok "MF from prep blocks = from csv text ($(grep -o 'digest: [0-9a-f]*' mft.out))"

# exact resume (one worker, staleness 0: docs/CHECKPOINTS.md) with a different optimizer per
# table: checkpoint at step 600 of 1954, resume; bit-identical to the uninterrupted run
S0=(--set train.max_staleness=0 --set "embedding.tables=[user.optimizer=adagrad,item.optimizer=rowwise_adagrad]")
mpi 240 2 -- train "${R[@]}" "${S0[@]}" > mf0.out 2> mf0.err || fail "mf staleness 0 failed: $(tail -n 5 mf0.err)"
mpi 240 2 -- train "${R[@]}" "${S0[@]}" --set checkpoint.dir="$WORK/ck" --set train.max_steps=600 \
  > ck1.out 2> ck1.err || fail "mf first part failed: $(tail -n 5 ck1.err)"
"$PSREC" ckpt verify "$WORK/ck/$(cat "$WORK/ck/latest")" > verify.out ||
  fail "ckpt verify: $(cat verify.out)"
"$PSREC" ckpt inspect "$WORK/ck/$(cat "$WORK/ck/latest")" > inspect.out
for t in "0 user: width 9 floats 18 optimizer adagrad" "1 item: width 9 floats 10 optimizer rowwise_adagrad" \
         "2 global: width 1 floats 3 optimizer adam rows 1 "; do
  grep -q "table $t" inspect.out || fail "inspect lacks 'table $t': $(grep table inspect.out)"
done
mpi 240 2 -- train "${R[@]}" "${S0[@]}" --set checkpoint.dir="$WORK/ck" --resume auto > ck2.out 2> ck2.err ||
  fail "mf resumed part failed: $(tail -n 5 ck2.err)"
[ "$(summary ck2.out)" = "$(summary mf0.out)" ] ||
  fail "resumed MF differs:\n  full:    $(summary mf0.out)\n  resumed: $(summary ck2.out)"
ok "MF (adagrad, rowwise_adagrad, adam tables) checkpointed at step 600 and resumed = uninterrupted ($(field rmse result: ck2.out))"

done_checks
