# t_libsvm: data.format libsvm and libffm (common/prep.h P6), generated here with awk from a
# planted model whose signal lies in the feature values:
#  - libsvm, 8 features a row, index 1..100, value uniform in [-1, 1], true logit
#    sum_j w_{i_j} x_j with w_i = +1.5 (i odd) or -1.5 (i even), labels +1/-1. A model that
#    ignored the values (x = 1) would see E[x] = 0, no signal: AUC 0.5. LR must come near the
#    planted optimum, and the same rows with every value replaced by 1 must not.
#  - libffm, 4 fields with one feature each (index 0..19, value in [-1, 1]), linear weights
#    +-0.7 and two planted pairwise interactions (fields 0x1 and 2x3): FM beats LR by a margin
#    (LR cannot express the interactions) and comes near the optimum although every other row
#    lists its fields backwards (the reader puts them in field order), DeepFM learns, DLRM is
#    refused by name.
#  - text (plain or .gz) and the block files `psrec prep` makes of it train to the same digest;
#  - a malformed row is reported as file:line and data.max_bad_rows stops the job.
source "$(dirname "$0")/lib.sh"
P=$WORK

# gen FMT ROWS SEED > FILE; the true logit of each row goes to FILE.z (for the optimum)
gen() {
  awk -v fmt="$1" -v n="$2" -v seed="$3" -v zfile="$4.z" '
  BEGIN {
    srand(seed)
    for (r = 0; r < n; r++) {
      z = 0; line = ""
      if (fmt == "libsvm") {
        for (j = 0; j < 8; j++) {
          i = 1 + int(rand() * 100); x = sprintf("%.3f", 2 * rand() - 1)
          z += (i % 2 ? 1.5 : -1.5) * x
          line = line " " i ":" x
        }
      } else {
        for (f = 0; f < 4; f++) {
          i = int(rand() * 20); x = sprintf("%.3f", 2 * rand() - 1)
          z += ((i + f) % 2 ? 0.7 : -0.7) * x
          s[f] = ((i * 7 + f) % 3 ? 1 : -1) * x
          tok = f ":" i ":" x
          line = r % 2 ? " " tok line : line " " tok  # odd rows list the fields backwards
        }
        z += 2 * s[0] * s[1] - 2 * s[2] * s[3]
      }
      y = rand() < 1 / (1 + exp(-z)) ? "+1" : "-1"
      print y line
      print z, (y == "+1") > zfile
    }
  }' > "$4"
}
# AUC of the true logits in FILE.z against their labels (the planted optimum on that file)
auc_of() {
  sort -g -k1,1 "$1.z" | awk '{ n++; if ($2) { pos++; rs += n } }
    END { neg = n - pos; printf "%.4f\n", (rs - pos * (pos + 1) / 2) / (pos * neg) }'
}

gen libsvm 40000 1 $P/train.svm
gen libsvm 5000 2 $P/test.svm
gen libffm 40000 3 $P/train.ffm
gen libffm 5000 4 $P/test.ffm
gzip -k $P/train.svm
OPT_SVM=$(auc_of $P/test.svm)
OPT_FFM=$(auc_of $P/test.ffm)
echo "planted optimum AUC: libsvm $OPT_SVM, libffm $OPT_FFM"

cfg() { # cfg FILE FORMAT MODEL TRAIN TEST [extra data lines]
  cat > "$1" <<YAML
data:
  format: $2
  train: [$4]
  test: [$5]
${6:-}
model:
  type: $3
  dim: 4
optimizer:
  lr: 0.02
train:
  epochs: 2
  batch_size: 256
  max_staleness: 0
  seed: 3
  progress_seconds: 5
YAML
}
run() { # run NAME CONFIG [psrec args]: 1 server + 1 worker
  local name=$1 c=$2
  shift 2
  mpi 180 2 -- train -c "$c" "$@" > $name.out 2> $name.err || fail "$name failed: $(grep psrec $name.err | tail -n 5)"
}
summary() { echo "$(grep '^digest:' "$1") | $(grep '^result:' "$1" | cut -d' ' -f2-4)"; }

# ---- libsvm: values weight the features ----
cfg svm.yaml libsvm lr $P/train.svm $P/test.svm
run svm svm.yaml
auc=$(field auc result: svm.out)
ge "$auc" 0.85 && near "$auc" "$OPT_SVM" 0.03 || fail "libsvm LR AUC $auc (optimum $OPT_SVM): want >= 0.85 and within 0.03"
ok "libsvm LR AUC $auc (planted optimum $OPT_SVM)"
sed 's/:[-0-9.]*/:1/g' $P/train.svm > $P/train1.svm
sed 's/:[-0-9.]*/:1/g' $P/test.svm > $P/test1.svm
run ones svm.yaml --set data.train=$P/train1.svm --set data.test=$P/test1.svm
auc1=$(field auc result: ones.out)
awk -v a="$auc1" 'BEGIN { exit !(a < 0.6) }' || fail "values replaced by 1 still give AUC $auc1: the test cannot see the weighting"
ok "the same rows with values 1 give AUC $auc1: the signal is in the values"
[ "$(field bad_rows result: svm.out)" = 0 ] || fail "bad rows in clean data: $(grep result: svm.out)"

# ---- text (.gz) vs blocks: the same digest ----
cfg svmgz.yaml libsvm lr $P/train.svm.gz $P/test.svm
run svmgz svmgz.yaml
[ "$(summary svmgz.out)" = "$(summary svm.out)" ] || fail "plain and .gz differ: $(summary svmgz.out) vs $(summary svm.out)"
"$PSREC" prep -c svmgz.yaml --out $P/blk --verify > prep.out 2> prep.err || fail "prep failed: $(cat prep.err)"
grep -q "schema 1 fields (1 multi), from libsvm" prep.out || fail "prep schema line: $(cat prep.out)"
run svmblk svm.yaml --set "data.train=[$P/blk/train/*.psrb]" --set "data.test=[$P/blk/test/*.psrb]"
[ "$(summary svmblk.out)" = "$(summary svm.out)" ] ||
  fail "text and blocks differ:\n  text:   $(summary svm.out)\n  blocks: $(summary svmblk.out)"
ok "libsvm plain, .gz and prep blocks train identically: $(summary svmblk.out)"

# ---- libffm: FM learns the planted interactions, LR cannot ----
cfg ffm.yaml libffm fm $P/train.ffm $P/test.ffm "  fields: 4"
run ffm ffm.yaml
run ffmlr ffm.yaml --set model.type=lr
fm_auc=$(field auc result: ffm.out); lr_auc=$(field auc result: ffmlr.out)
ge "$fm_auc" 0.74 && near "$fm_auc" "$OPT_FFM" 0.02 && ge_by "$fm_auc" "$lr_auc" 0.05 ||
  fail "libffm FM AUC $fm_auc, LR $lr_auc (optimum $OPT_FFM): want FM >= 0.74, within 0.02 of the optimum and >= LR + 0.05"
ok "libffm FM AUC $fm_auc > LR AUC $lr_auc (planted optimum $OPT_FFM)"
"$PSREC" prep -c ffm.yaml --out $P/fblk > fprep.out 2> fprep.err || fail "prep failed: $(cat fprep.err)"
run ffmblk ffm.yaml --set "data.train=[$P/fblk/train/*.psrb]" --set "data.test=[$P/fblk/test/*.psrb]"
[ "$(summary ffmblk.out)" = "$(summary ffm.out)" ] ||
  fail "libffm text and blocks differ:\n  text:   $(summary ffm.out)\n  blocks: $(summary ffmblk.out)"
ok "libffm text and prep blocks train identically: $(summary ffmblk.out)"
run deep ffm.yaml --set model.type=deepfm --set "model.mlp=[16]"
deep_auc=$(field auc result: deep.out)
ge "$deep_auc" 0.74 || fail "libffm DeepFM AUC $deep_auc < 0.74"
ok "libffm DeepFM AUC $deep_auc"
set +e
mpi 60 2 -- train -c ffm.yaml --set model.type=dlrm > dlrm.out 2> dlrm.err
rc=$?
set -e
[ $rc -eq 2 ] && grep -q "model.type dlrm needs dense inputs (its bottom MLP reads them), but data.format libffm rows have none; use deepfm, fm or lr" dlrm.err ||
  fail "dlrm on libffm: exit $rc: $(grep psrec dlrm.err)"
ok "dlrm on libffm refused (exit 2)"

# ---- malformed rows: file:line, then data.max_bad_rows ----
cp $P/train.ffm $P/dirty.ffm
sed -i '7s/^.*$/+1 0:1:0.5 4:3:1/; 300s/:[0-9.-]*$/:x/; 5000s/^.*$/2 0:1:1/' $P/dirty.ffm
run dirty ffm.yaml --set data.train=$P/dirty.ffm --set data.max_bad_rows=3
grep -q "dirty.ffm:7: malformed row: feature 2 '4:3:1': field '4' is not an integer in \[0, 4) (data.fields is 4)" dirty.err ||
  fail "line 7 not reported: $(grep psrec dirty.err)"
grep -q "dirty.ffm:300: malformed row: feature 4 '0:[0-9]*:x': value 'x' is not a number" dirty.err ||
  fail "line 300 not reported: $(grep psrec dirty.err)"
grep -q "dirty.ffm:5000: malformed row: label '2' is not a click label" dirty.err ||
  fail "line 5000 not reported: $(grep psrec dirty.err)"
ex=$(field examples result: dirty.out)
[ "$ex" -eq $((2 * (40000 - 3))) ] || fail "examples $ex, expected 2 x 39997"
ok "malformed libffm rows reported as file:line and skipped ($ex examples)"
set +e
mpi 60 2 -- train -c ffm.yaml --set data.train=$P/dirty.ffm --set data.max_bad_rows=2 > lim.out 2> lim.err
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "exit $rc (0 = not stopped, 124/137 = hung)"
grep -q "dirty.ffm:5000: malformed row: .*; 3 malformed rows exceed data.max_bad_rows=2" lim.err ||
  fail "no limit message: $(grep psrec lim.err)"
ok "the third malformed row stops the job (exit $rc)"
done_checks
