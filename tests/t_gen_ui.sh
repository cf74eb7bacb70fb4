# t_gen_ui: `psrec gen --kind ratings|implicit` from the command line. The files, the header
# and row counts, the optimum lines on stdout and in optimum.txt, same flags -> same bytes;
# `--kind criteo` byte for byte the output without --kind; bad flags exit 2 with one line
# naming the flag; and cluster-configs/movielens.yaml trains on the files with the files
# split: MF lands between the planted optimum and the biases-only model, and psrec's pop
# model reproduces the generator's pop line exactly.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)

"$PSREC" gen --help > gh.txt
for f in --kind --users --items --dim --noise ratings implicit criteo; do
  grep -q -- "$f" gh.txt || fail "gen --help misses $f"
done
ok "gen --help lists the user-item flags"

# ---- ratings
"$PSREC" gen --kind ratings --out r > r.out 2> r.err || fail "gen --kind ratings failed: $(cat r.err)"
[ "$(head -n 1 r/train.csv)" = "userId,movieId,rating,timestamp" ] || fail "train.csv header: $(head -n 1 r/train.csv)"
[ "$(head -n 1 r/test.csv)" = "userId,movieId,rating,timestamp" ] || fail "test.csv header: $(head -n 1 r/test.csv)"
[ "$(wc -l < r/train.csv)" -eq 100001 ] || fail "train.csv has $(wc -l < r/train.csv) lines, expected 100001"
[ "$(wc -l < r/test.csv)" -eq 10001 ] || fail "test.csv has $(wc -l < r/test.csv) lines, expected 10001"
ok "ratings: defaults give 100000 + 10000 rows under the MovieLens header"
bad=$(awk -F, 'NR > 1 && !($1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ && $3 ~ /^-?[0-9]+\.[0-9][0-9][0-9][0-9]$/ && $4 ~ /^[0-9]+$/ && NF == 4)' r/train.csv | head -n 3)
[ -z "$bad" ] || fail "malformed ratings rows: $bad"
ok "ratings rows: userId,movieId,rating with 4 decimals,timestamp"
[ "$(sed -n 1p r.out)" = "$(sed -n 1p r/optimum.txt)" ] && cmp -s r.out r/optimum.txt || fail "stdout and optimum.txt differ"
grep -Eq '^optimum: rmse=0\.[0-9]{6}$' r.out || fail "ratings optimum line: $(cat r.out)"
grep -Eq '^biases: rmse=0\.[0-9]{6}$' r.out || fail "ratings biases line: $(cat r.out)"
[ "$(wc -l < r.out)" -eq 2 ] || fail "ratings stdout: $(cat r.out)"
OPT_RMSE=$(field rmse optimum: r.out)
BIAS_RMSE=$(field rmse biases: r.out)
near "$OPT_RMSE" 0.5 0.01 || fail "optimum rmse $OPT_RMSE is not the default noise 0.5"
ge_by "$BIAS_RMSE" "$OPT_RMSE" 0.3 || fail "biases rmse $BIAS_RMSE is not well above the optimum $OPT_RMSE"
ok "ratings: $(head -n 1 r.out), $(tail -n 1 r.out)"
grep -q "rows/s" r.err || fail "no speed on stderr: $(cat r.err)"

"$PSREC" gen --kind=ratings --rows 20000 --test-rows 2000 --users 300 --items 500 --dim 4 --noise 0.25 --seed 9 --out r1 > r1.out 2>/dev/null
"$PSREC" gen --kind ratings --rows=20000 --test-rows=2000 --users=300 --items=500 --dim=4 --noise=0.25 --seed=9 --out=r2 > r2.out 2>/dev/null
for f in train.csv test.csv optimum.txt; do cmp -s "r1/$f" "r2/$f" || fail "two runs differ in $f"; done
cmp -s r1.out r2.out || fail "two runs print different optima"
near "$(field rmse optimum: r1.out)" 0.25 0.02 || fail "--noise 0.25 gives $(cat r1.out)"
ok "ratings: same flags, same bytes; --noise sets the optimum"

# ---- implicit
"$PSREC" gen --kind implicit --out i > i.out 2> i.err || fail "gen --kind implicit failed: $(cat i.err)"
[ "$(head -n 1 i/train.csv)" = "userId,movieId,rating,timestamp" ] || fail "implicit header"
[ "$(wc -l < i/train.csv)" -eq 100001 ] && [ "$(wc -l < i/test.csv)" -eq 10001 ] || fail "implicit row counts"
[ -z "$(awk -F, 'FNR > 1 && $3 != "1"' i/train.csv i/test.csv | head -n 1)" ] || fail "an implicit row without rating 1"
dups=$(tail -q -n +2 i/train.csv i/test.csv | cut -d, -f1,2 | sort | uniq -d | head -n 3)
[ -z "$dups" ] || fail "duplicate (user, item) pairs: $dups"
# test rows are each user's latest: every test timestamp after the user's last training one
late=$(awk -F, 'FNR == 1 { next } NR == FNR { if ($4 > last[$1]) last[$1] = $4; next } $4 <= last[$1]' i/train.csv i/test.csv | head -n 3)
[ -z "$late" ] || fail "test rows not after the user's training rows: $late"
ok "implicit: rating 1, no duplicate pairs, test rows after training rows"
cmp -s i.out i/optimum.txt || fail "implicit stdout and optimum.txt differ"
grep -Eq '^optimum: hr@10=0\.[0-9]{6} ndcg@10=0\.[0-9]{6} protocol=full$' i.out || fail "implicit optimum line: $(cat i.out)"
grep -Eq '^pop: hr@10=0\.[0-9]{6} ndcg@10=0\.[0-9]{6} protocol=full$' i.out || fail "implicit pop line: $(cat i.out)"
OPT_HR=$(field hr@10 optimum: i.out)
POP_HR=$(field hr@10 pop: i.out)
POP_NDCG=$(field ndcg@10 pop: i.out)
ge_by "$OPT_HR" "$POP_HR" 0.3 || fail "optimum hr@10 $OPT_HR is not well above pop $POP_HR"
ok "implicit: $(head -n 1 i.out), $(tail -n 1 i.out)"

# ---- criteo unchanged
"$PSREC" gen --rows 3000 --test-rows 500 --seed 4 --out c0 > c0.out 2>/dev/null
"$PSREC" gen --kind criteo --rows 3000 --test-rows 500 --seed 4 --out c1 > c1.out 2>/dev/null
for f in train.tsv test.tsv optimum.txt; do cmp -s "c0/$f" "c1/$f" || fail "--kind criteo differs in $f"; done
cmp -s c0.out c1.out || fail "--kind criteo prints another optimum"
"$PSREC" gen --kind criteo --gzip --truth deep --rows 2000 --test-rows 300 --out c2 > /dev/null 2>&1
"$PSREC" gen --gzip --truth deep --rows 2000 --test-rows 300 --out c3 > /dev/null 2>&1
for f in train.tsv.gz test.tsv.gz optimum.txt; do cmp -s "c2/$f" "c3/$f" || fail "--kind criteo --gzip --truth deep differs in $f"; done
ok "--kind criteo: byte for byte the output without --kind"

# ---- bad command lines: exit 2, one line naming the flag, nothing written
expect_usage() {
  local want=$1
  shift
  set +e
  "$PSREC" gen "$@" > bad.out 2> bad.err
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "gen $* exited $rc, expected 2 ($(cat bad.err))"
  [ "$(wc -l < bad.err)" -eq 1 ] || fail "gen $*: expected one line on stderr, got: $(cat bad.err)"
  grep -qF -- "$want" bad.err || fail "gen $*: message '$(cat bad.err)' lacks '$want'"
  [ ! -e nothing ] || fail "gen $* created its output directory"
}
expect_usage "--kind: 'movies' is not a kind (allowed: criteo, ratings, implicit)" --kind movies --out nothing
expect_usage "--users: 0 is out of range (allowed 1 .. 100000000)" --kind ratings --users 0 --out nothing
expect_usage "--users: 'ten' is not a non-negative integer" --kind ratings --users ten --out nothing
expect_usage "--items: 19 is out of range for --kind implicit (allowed 20 .." --kind implicit --items 19 --out nothing
expect_usage "--dim: 0 is out of range (allowed 1 .. 256)" --kind implicit --dim 0 --out nothing
expect_usage "--dim: '300' is out of range (at most 256)" --kind implicit --dim 300 --out nothing
expect_usage "--noise: 'abc' is not a number" --kind ratings --noise abc --out nothing
expect_usage "--noise: -1 is out of range (allowed 0 .. 10)" --kind ratings --noise -1 --out nothing
expect_usage "--noise applies to --kind ratings only, not to --kind implicit" --kind implicit --noise 0.1 --out nothing
expect_usage "--truth applies to --kind criteo only, not to --kind ratings" --kind ratings --truth deep --out nothing
expect_usage "--users applies to --kind ratings and implicit only, not to --kind criteo" --users 10 --out nothing
expect_usage "--rows: 999 is less than --users 1000" --kind ratings --rows 999 --out nothing
expect_usage "--rows + --test-rows = 1000000 + 1 exceeds --users * floor(--items / 2) = 1000 * 1000 = 1000000" \
  --kind implicit --rows 1000000 --test-rows 1 --out nothing
expect_usage "--out DIR is required" --kind ratings
ok "bad user-item flags: exit 2 with one line naming the flag"

# ---- training on the files with cluster-configs/movielens.yaml
ML=(-c "$SRC/cluster-configs/movielens.yaml" --set data.split=files --set train.progress_seconds=100)
mpi 240 2 -- train "${ML[@]}" --set data.train="$WORK/r/train.csv" --set data.test="$WORK/r/test.csv" \
  --set model.dim=16 --set model.l2=0.2 --set optimizer.lr=0.01 --set model.init_std=0.1 \
  --set train.epochs=30 > mf.out 2> mf.err || fail "MF training failed: $(tail -n 5 mf.err)"
MF_RMSE=$(field rmse result: mf.out)
[ -n "$MF_RMSE" ] || fail "no result line: $(tail -n 3 mf.out)"
ge "$MF_RMSE" "$(awk -v a="$OPT_RMSE" 'BEGIN { print a - 0.01 }')" || fail "MF rmse $MF_RMSE beats the optimum $OPT_RMSE"
ge_by "$BIAS_RMSE" "$MF_RMSE" 0.1 || fail "MF rmse $MF_RMSE is not 0.1 below the biases-only $BIAS_RMSE"
ok "movielens.yaml MF on the ratings: rmse $MF_RMSE, between optimum $OPT_RMSE and biases $BIAS_RMSE"
mpi 240 2 -- train "${ML[@]}" --set data.train="$WORK/i/train.csv" --set data.test="$WORK/i/test.csv" \
  --set model.type=pop > pop.out 2> pop.err || fail "pop training failed: $(tail -n 5 pop.err)"
near "$(field hr@10 result: pop.out)" "$POP_HR" 0.000002 || fail "psrec pop hr@10 $(field hr@10 result: pop.out) != generator's $POP_HR"
near "$(field ndcg@10 result: pop.out)" "$POP_NDCG" 0.000002 || fail "psrec pop ndcg@10 $(field ndcg@10 result: pop.out) != generator's $POP_NDCG"
ok "psrec's pop model reproduces the generator's pop line: hr@10 $POP_HR ndcg@10 $POP_NDCG"
done_checks
