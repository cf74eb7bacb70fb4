# t_topk: top-K models on the planted implicit data of `psrec gen --kind implicit`: MF-BPR and
# NeuMF reach HR@10 within 0.05 of the planted model's own ranking and above the popularity
# baseline (full protocol); the sampled protocol names itself and its negatives; the figures
# do not depend on the worker count (pop, 1 and 2 workers); leave-last-out holds out one
# interaction per user with two or more.
source "$(dirname "$0")/lib.sh"
CFG=${PSREC_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}/cluster-configs/movielens.yaml
[ -f "$CFG" ] || fail "no $CFG"
summary() { grep -E '^(digest|result):' "$1" | sed 's/ seconds=.*//'; }

# ---- implicit feedback ---------------------------------------------------------------------
# 200 interactions per user over 1000 items; rows sorted by user, so training shuffles them
"$PSREC" gen --kind implicit --items 1000 --rows 200000 --seed 4 --out "$WORK/i" > gen_i.out ||
  fail "gen implicit: $(cat gen_i.out)"
ohr=$(field hr@10 optimum: gen_i.out)
[ -n "$ohr" ] || fail "no optimum hr@10: $(cat gen_i.out)"
I=(-c "$CFG" --set "data.train=$WORK/i/train.csv" --set "data.test=$WORK/i/test.csv"
   --set data.split=files --set eval.task=topk --set train.progress_seconds=100
   --set data.shuffle_buffer=200000 --set model.dim=16 --set model.l2=0 --set optimizer.lr=0.01)
mpi 120 2 -- train "${I[@]}" --set model.type=pop --set train.epochs=1 > pop.out 2> pop.err ||
  fail "pop failed: $(tail -n 5 pop.err)"
phr=$(field hr@10 result: pop.out)
grep -q "protocol=full split=files" pop.out || fail "pop result names no protocol: $(grep result: pop.out)"
# the generator ranks by training counts on its own (ties by key, as psrec's catalogue does):
# the same HR@10 and NDCG@10, computed by independent code
[ "$(field hr@10 pop: gen_i.out)" = "$phr" ] && [ "$(field ndcg@10 pop: gen_i.out)" = "$(field ndcg@10 result: pop.out)" ] ||
  fail "pop: psrec $(grep -o 'hr@10=[0-9.]* ndcg@10=[0-9.]*' pop.out | tail -n 1), gen $(grep pop: gen_i.out)"
ok "pop: HR@10 $phr = the generator's own count ranking (planted optimum $ohr)"
mpi 120 3 -- train "${I[@]}" --set model.type=pop --set train.epochs=1 > pop2.out 2> pop2.err ||
  fail "pop on 2 workers failed: $(tail -n 5 pop2.err)"
[ "$(grep -o 'hr@10=.*users=[0-9]*' pop2.out | tail -n 1)" = "$(grep -o 'hr@10=.*users=[0-9]*' pop.out | tail -n 1)" ] ||
  fail "top-K figures depend on the worker count:\n  1: $(grep result: pop.out)\n  2: $(grep result: pop2.out)"
ok "pop: 2 workers give the same figures as 1"

mpi 300 2 -- train "${I[@]}" --set model.type=mf --set model.loss=bpr --set train.epochs=10 \
  --set optimizer.decay=linear --set optimizer.decay_examples=2000000 > bpr.out 2> bpr.err ||
  fail "mf bpr failed: $(tail -n 5 bpr.err)"
bhr=$(field hr@10 result: bpr.out)
near "$bhr" "$ohr" 0.05 || fail "MF-BPR HR@10 $bhr, planted optimum $ohr"
ge_by "$bhr" "$phr" 0.05 || fail "MF-BPR HR@10 $bhr not above pop $phr"
ok "MF-BPR: HR@10 $bhr (optimum $ohr, pop $phr), full protocol"

mpi 600 2 -- train "${I[@]}" --set model.type=neumf --set train.epochs=6 \
  --set optimizer.decay=linear --set optimizer.decay_examples=1200000 > neumf.out 2> neumf.err ||
  fail "neumf failed: $(tail -n 5 neumf.err)"
nhr=$(field hr@10 result: neumf.out)
near "$nhr" "$ohr" 0.05 || fail "NeuMF HR@10 $nhr, planted optimum $ohr"
ge_by "$nhr" "$phr" 0.05 || fail "NeuMF HR@10 $nhr not above pop $phr"
ok "NeuMF: HR@10 $nhr (optimum $ohr, pop $phr), full protocol"

mpi 120 2 -- train "${I[@]}" --set model.type=pop --set train.epochs=1 --set eval.protocol=sampled \
  --set eval.negatives=50 > pops.out 2> pops.err || fail "pop sampled failed: $(tail -n 5 pops.err)"
grep -q "protocol=sampled negatives=50 split=files" pops.out ||
  fail "sampled result names no protocol: $(grep result: pops.out)"
ok "sampled protocol: $(grep -o 'hr@10=[0-9.]*' pops.out | tail -n 1) with 50 negatives"

# leave-last-out on the training file alone: one held-out interaction per user with two or more
mpi 120 2 -- train "${I[@]}" --set data.test=[] --set data.split=leave_last_out --set model.type=pop \
  --set train.epochs=1 > llo.out 2> llo.err || fail "leave_last_out failed: $(tail -n 5 llo.err)"
users=$(awk -F, 'NR > 1 { n[$1]++ } END { k = 0; for (u in n) if (n[u] >= 2) k++; print k }' "$WORK/i/train.csv")
lists=$(grep '^psrec\[1 worker\]: eval:' llo.out | tail -n 1 | tr ' ' '\n' | sed -n 's/^lists=//p')
unknown=$(grep '^psrec\[1 worker\]: eval:' llo.out | tail -n 1 | tr ' ' '\n' | sed -n 's/^unknown=//p')
[ "$((lists + unknown))" = "$users" ] ||
  fail "leave_last_out: $lists lists + $unknown unknown, $users users with two or more interactions"
ok "leave_last_out: $lists users evaluated ($unknown held-out items unknown to training)"
done_checks
