# t_bad_rows: malformed rows are reported as file:line and tolerated up to data.max_bad_rows;
# one more stops the whole job (2 workers) with a non-zero status and no hang.
source "$(dirname "$0")/lib.sh"
ROWS=20000 TEST_ROWS=2000 gen_data
cp data/train.tsv dirty.tsv
sed -i '101s/^./7/; 205s/\t/ /; 3001s/^.*$/1\tx/' dirty.tsv  # label 7, 39 fields, 2 fields
EPOCHS=1 ROWS=20000 WORKERS=2 base_cfg job.yaml
sed -i "s#train: \[.*\]#train: [$WORK/dirty.tsv]#" job.yaml
mpi 120 3 -- train -c job.yaml --set data.max_bad_rows=3 > ok.out 2> ok.err ||
  fail "3 bad rows with max_bad_rows=3 failed: $(tail ok.err)"
grep -q "dirty.tsv:101: malformed row" ok.err || fail "line 101 not reported: $(cat ok.err)"
grep -q "dirty.tsv:205: malformed row" ok.err || fail "line 205 not reported"
grep -q "dirty.tsv:3001: malformed row" ok.err || fail "line 3001 not reported"
ok "each malformed row reported as file:line"
ex=$(field examples result: ok.out)
[ "$ex" -eq $((20000 - 3)) ] || fail "examples $ex, expected 19997"
ok "malformed rows skipped ($ex examples)"
set +e
mpi 120 3 -- train -c job.yaml --set data.max_bad_rows=2 > bad.out 2> bad.err
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "exit $rc (0 = not stopped, 124/137 = hung)"
grep -q "exceed data.max_bad_rows=2" bad.err || fail "no limit message: $(cat bad.err)"
ok "job stopped with exit $rc when the limit was passed"
done_checks
