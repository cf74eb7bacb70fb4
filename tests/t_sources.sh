# t_sources: the three row sources a worker trains from (common/reader.h rd_open_cfg).
#  - .psrb blocks from `psrec prep` give the same features as the text they came from: with one
#    worker at staleness 0, text and blocks train to the same digest and metrics, bit for bit.
#  - data.shuffle_buffer changes the order (another digest) and still learns.
#  - data.source: generate trains without files and learns the planted model.
#  - Exact resume through a checkpoint works from blocks (with shuffle) and from generated rows.
#  - csv logs given to train as text, and a mix of text and block files, are clear errors.
source "$(dirname "$0")/lib.sh"
ROWS=50000 TEST_ROWS=5000 gen_data
STALENESS=0 ROWS=50000 EPOCHS=2 BATCH=256 base_cfg job.yaml
"$PSREC" prep -c job.yaml --out $WORK/blk > prep.out 2> prep.err || fail "prep failed: $(cat prep.err)"
BLK=(--set "data.train=[$WORK/blk/train/*.psrb]" --set "data.test=[$WORK/blk/test/*.psrb]")
summary() { echo "$(grep '^digest:' "$1") | $(grep '^data: examples' "$1") | $(grep '^result:' "$1" | cut -d' ' -f2-4)"; }

mpi 120 2 -- train -c job.yaml > text.out 2> text.err || fail "text run failed: $(tail -n 5 text.err)"
mpi 120 2 -- train -c job.yaml "${BLK[@]}" > blk.out 2> blk.err || fail "block run failed: $(tail -n 5 blk.err)"
[ "$(summary text.out)" = "$(summary blk.out)" ] ||
  fail "text and blocks differ:\n  text:   $(summary text.out)\n  blocks: $(summary blk.out)"
ok "text and .psrb blocks train identically: $(summary blk.out)"

mpi 120 2 -- train -c job.yaml "${BLK[@]}" --set data.shuffle_buffer=5000 > shuf.out 2> shuf.err ||
  fail "shuffled run failed: $(tail -n 5 shuf.err)"
[ "$(grep '^digest:' shuf.out)" != "$(grep '^digest:' blk.out)" ] || fail "shuffle_buffer changed nothing"
[ "$(grep '^data: examples' shuf.out | cut -d' ' -f2-3)" = "$(grep '^data: examples' blk.out | cut -d' ' -f2-3)" ] ||
  fail "shuffling changed which examples were trained"
a0=$(field auc result: blk.out); a1=$(field auc result: shuf.out)
near "$a1" "$a0" 0.01 || fail "shuffled AUC $a1, unshuffled $a0"
ok "shuffle_buffer 5000: another order (digest), same examples, AUC $a1 vs $a0 unshuffled"

# exact resume from blocks with shuffle: stop at 150 steps, resume, compare
mpi 120 2 -- train -c job.yaml "${BLK[@]}" --set data.shuffle_buffer=5000 --set checkpoint.dir=$WORK/ck1 \
  --set train.max_steps=150 > s1.out 2> s1.err || fail "first part failed: $(tail -n 5 s1.err)"
mpi 120 2 -- train -c job.yaml "${BLK[@]}" --set data.shuffle_buffer=5000 --set checkpoint.dir=$WORK/ck1 \
  --resume auto > s2.out 2> s2.err || fail "resumed part failed: $(tail -n 5 s2.err)"
[ "$(summary s2.out)" = "$(summary shuf.out)" ] ||
  fail "shuffled blocks: resumed run differs:\n  full:    $(summary shuf.out)\n  resumed: $(summary s2.out)"
ok "blocks with shuffle: stopped at 150 and resumed = uninterrupted"

# generated rows: learns, and resumes exactly
GEN=(--set data.source=generate --set "data.train=[]" --set "data.test=[]" --set data.gen_rows=50000
     --set data.gen_test_rows=5000 --set data.gen_seed=5)
mpi 120 2 -- train -c job.yaml "${GEN[@]}" > g.out 2> g.err || fail "generated run failed: $(tail -n 5 g.err)"
a2=$(field auc result: g.out)
near "$a2" "$a0" 0.02 || fail "generated rows of the same planted model: AUC $a2, from files $a0"
ok "data.source generate: AUC $a2 (files from the same planted model: $a0)"
mpi 120 2 -- train -c job.yaml "${GEN[@]}" --set checkpoint.dir=$WORK/ck2 --set train.max_steps=150 \
  > g1.out 2> g1.err || fail "generated first part failed: $(tail -n 5 g1.err)"
mpi 120 2 -- train -c job.yaml "${GEN[@]}" --set checkpoint.dir=$WORK/ck2 --resume auto > g2.out 2> g2.err ||
  fail "generated resumed part failed: $(tail -n 5 g2.err)"
[ "$(summary g2.out)" = "$(summary g.out)" ] ||
  fail "generated: resumed run differs:\n  full:    $(summary g.out)\n  resumed: $(summary g2.out)"
ok "generated rows: stopped at 150 and resumed = uninterrupted"

# errors
rc=0
mpi 60 2 -- train -c job.yaml --set data.format=csv --set "data.columns=[label,cat]" > e1.out 2> e1.err || rc=$?
[ $rc -ne 0 ] && grep -q "train.tsv:101: malformed row: expected 2 fields separated by ',', found 1; 101 malformed rows exceed data.max_bad_rows=100" e1.err ||
  fail "Criteo text read as csv: exit $rc: $(cat e1.err)"
ok "Criteo text read as csv: $(grep -m1 'psrec: error' e1.err | cut -c1-150)"
rc=0
mpi 60 2 -- train -c job.yaml --set "data.train=[$WORK/data/train.tsv,$WORK/blk/train/train.tsv.psrb]" \
  > e2.out 2> e2.err || rc=$?
[ $rc -ne 0 ] && grep -q "mixes .psrb block files and text files" e2.err || fail "mixed sources: exit $rc: $(cat e2.err)"
ok "text and blocks mixed: $(grep -m1 'psrec: error' e2.err | cut -c1-150)"
done_checks
