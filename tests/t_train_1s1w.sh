# t_train_1s1w: 1 server + 1 worker trains an FM to within 0.01 AUC of the planted optimum,
# and LR trains too (it cannot express the planted interactions, so only a floor is checked).
source "$(dirname "$0")/lib.sh"
gen_data
base_cfg job.yaml
mpi 240 2 -- train -c job.yaml > fm.out 2> fm.err || fail "fm run failed: $(tail -n 20 fm.err)"
check_auc fm.out 0.01
grep -q '^psrec\[0 server\]: progress: step=' fm.out || fail "no progress line"
ok "progress lines"
ex=$(field examples result: fm.out)
[ "$ex" -eq 2000000 ] || fail "trained on $ex examples, expected 2 epochs x 1000000"
ok "two epochs = every training row twice ($ex)"
grep -q "^psrec\[1 worker\]: eval: step=" fm.out || fail "no eval line"
ok "eval line"

MODEL=lr base_cfg lr.yaml
mpi 240 2 -- train -c lr.yaml > lr.out 2> lr.err || fail "lr run failed: $(tail -n 20 lr.err)"
lr_auc=$(field auc result: lr.out)
ge "$lr_auc" 0.70 || fail "LR AUC $lr_auc < 0.70"
ok "LR AUC $lr_auc"
done_checks
