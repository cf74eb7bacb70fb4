# t_shuffle: data.shuffle_buffer on text read directly by train (common/reader.h rule 7).
# User-sorted ratings (psrec gen --kind ratings, like MovieLens' ratings.csv) put 2-3 users in a
# batch, so MF learns slowly in file order; shuffled within a window of the whole share it gets
# within 0.04 RMSE of the planted optimum, far better than the same job unshuffled. And with
# the shuffle on, one worker at staleness 0 stopped at a checkpoint and resumed ends bit for
# bit like the uninterrupted run (the window is re-read and its permutation redrawn, not saved);
# so do generated rows.
source "$(dirname "$0")/lib.sh"
CFG=${PSREC_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}/cluster-configs/movielens.yaml
[ -f "$CFG" ] || fail "no $CFG"
summary() { grep -E '^(digest|result):' "$1" | sed 's/ seconds=.*//'; }

"$PSREC" gen --kind ratings --users 1000 --items 500 --rows 200000 --test-rows 10000 --seed 3 \
  --out "$WORK/r" > gen.out || fail "gen ratings: $(cat gen.out)"
opt=$(field rmse optimum: gen.out)
[ -n "$opt" ] || fail "no optimum rmse: $(cat gen.out)"
R=(-c "$CFG" --set "data.train=$WORK/r/train.csv" --set "data.test=$WORK/r/test.csv"
   --set data.split=files --set model.dim=8 --set model.init_std=0.1 --set train.batch_size=512
   --set train.epochs=10 --set optimizer.lr=0.01 --set model.l2=0.02
   --set train.progress_seconds=100)

mpi 120 2 -- train "${R[@]}" --set data.shuffle_buffer=200000 > shuf.out 2> shuf.err ||
  fail "shuffled run failed: $(tail -n 5 shuf.err)"
mpi 120 2 -- train "${R[@]}" --set data.shuffle_buffer=0 > seq.out 2> seq.err || fail "unshuffled run failed: $(tail -n 5 seq.err)"
rs=$(field rmse result: shuf.out)
r0=$(field rmse result: seq.out)
[ -n "$rs" ] && [ -n "$r0" ] || fail "no rmse: $(grep result: shuf.out seq.out)"
near "$rs" "$opt" 0.04 || fail "shuffled MF RMSE $rs, planted optimum $opt (tolerance 0.04)"
ge_by "$r0" "$rs" 0.15 || fail "unshuffled RMSE $r0 is not 0.15 worse than shuffled $rs"
[ "$(grep '^data: examples' shuf.out)" = "$(grep '^data: examples' seq.out)" ] ||
  fail "the shuffle changed the rows trained on: $(grep '^data: examples' shuf.out seq.out)"
ok "shuffle_buffer 200000: RMSE $rs (optimum $opt), unshuffled $r0; same examples and row hash"

# exact resume with the shuffle on: three epochs in windows of 30000 rows (not a multiple of
# the batch), stopped at step 1000 (mid-window in the third epoch), resumed across the end of
# the epoch into a new permutation
S0=(--set train.max_staleness=0 --set train.epochs=3 --set data.shuffle_buffer=30000)
mpi 120 2 -- train "${R[@]}" "${S0[@]}" > full.out 2> full.err ||
  fail "staleness 0 run failed: $(tail -n 5 full.err)"
mpi 120 2 -- train "${R[@]}" "${S0[@]}" --set checkpoint.dir="$WORK/ck" --set train.max_steps=1000 \
  > ck1.out 2> ck1.err || fail "first part failed: $(tail -n 5 ck1.err)"
[ "$(cat "$WORK/ck/latest")" = ckpt-000000001000 ] || fail "latest is '$(cat "$WORK/ck/latest")'"
mpi 120 2 -- train "${R[@]}" "${S0[@]}" --set checkpoint.dir="$WORK/ck" --resume auto \
  > ck2.out 2> ck2.err || fail "resumed part failed: $(tail -n 5 ck2.err)"
grep -q "resume: checkpoint $WORK/ck/ckpt-000000001000 (step 1000" ck2.out ||
  fail "resume did not say which checkpoint: $(grep resume ck2.out)"
[ "$(summary ck2.out)" = "$(summary full.out)" ] ||
  fail "resumed run differs:\n  full:    $(summary full.out)\n  resumed: $(summary ck2.out)"
[ "$(grep '^digest:' full.out)" != "$(grep '^digest:' shuf.out)" ] || fail "epochs changed nothing"
ok "shuffled, checkpointed at step 1000 and resumed = uninterrupted: $(summary full.out | tr '\n' ' ')"

# a checkpoint from a job without the shuffle does not carry a position into a shuffled one:
# the share fingerprint differs, so the epoch restarts (docs/CHECKPOINTS.md W3), and says so
mpi 120 2 -- train "${R[@]}" --set train.max_staleness=0 --set train.epochs=3 \
  --set checkpoint.dir="$WORK/ck0" --set train.max_steps=500 > ck0.out 2> ck0.err ||
  fail "unshuffled first part failed: $(tail -n 5 ck0.err)"
mpi 120 2 -- train "${R[@]}" "${S0[@]}" --set checkpoint.dir="$WORK/ck0" --set train.max_steps=600 \
  --resume auto > ck0b.out 2> ck0b.err || fail "shuffled resume of it failed: $(tail -n 5 ck0b.err)"
grep -q "data.train differs" ck0b.out ck0b.err ||
  fail "no word of the restarted epoch: $(grep -h resume ck0b.out ck0b.err)"
ok "an unshuffled checkpoint resumed with data.shuffle_buffer restarts its epoch and says why"
# generated rows (data.source generate, Criteo-shaped FM data) take the same window: another
# order than without it, the same examples, and an exact resume mid-window in the second epoch
STALENESS=0 ROWS=30000 EPOCHS=2 BATCH=256 base_cfg gen.yaml
G=(-c gen.yaml --set data.source=generate --set "data.train=[]" --set "data.test=[]"
   --set data.gen_rows=30000 --set data.gen_test_rows=3000 --set data.gen_seed=5)
mpi 120 2 -- train "${G[@]}" > g0.out 2> g0.err || fail "generated run failed: $(tail -n 5 g0.err)"
G+=(--set data.shuffle_buffer=7000)
mpi 120 2 -- train "${G[@]}" > g.out 2> g.err || fail "shuffled generated run failed: $(tail -n 5 g.err)"
[ "$(grep '^digest:' g.out)" != "$(grep '^digest:' g0.out)" ] || fail "generated: the shuffle changed nothing"
[ "$(grep '^data: examples' g.out)" = "$(grep '^data: examples' g0.out)" ] ||
  fail "generated: the shuffle changed the rows: $(grep -h '^data: examples' g.out g0.out)"
mpi 120 2 -- train "${G[@]}" --set checkpoint.dir="$WORK/ckg" --set train.max_steps=150 > g1.out 2> g1.err ||
  fail "generated first part failed: $(tail -n 5 g1.err)"
mpi 120 2 -- train "${G[@]}" --set checkpoint.dir="$WORK/ckg" --resume auto > g2.out 2> g2.err ||
  fail "generated resumed part failed: $(tail -n 5 g2.err)"
[ "$(summary g2.out)" = "$(summary g.out)" ] ||
  fail "generated: resumed run differs:\n  full:    $(summary g.out)\n  resumed: $(summary g2.out)"
ok "generated rows, shuffle_buffer 7000: another order, same examples; resumed at 150 = uninterrupted"
done_checks
