# t_prep: psrec prep end to end. Criteo text from psrec gen (plain, .gz, with malformed rows)
# is converted by one process and by mpirun -np 2; --verify checks every block file against
# the training text reader row for row; outputs are byte-identical whatever the rank count;
# --read shows every worker count and shuffle reading every row exactly once; a corrupted or
# truncated file is reported naming the file and the block; MovieLens "::" and a csv with a
# multi-valued column and a header are generated here and converted; bad configs and
# command lines fail with exit 2, a file over data.max_bad_rows with exit 1 and no output.
source "$(dirname "$0")/lib.sh"

ROWS=20000 TEST_ROWS=2000 GEN_SEED=3 gen_data
mkdir -p gz
"$PSREC" gen --rows 7000 --test-rows 10 --seed 4 --gzip --out gz > /dev/null
mv gz/train.tsv.gz gz/part2.tsv.gz
cp data/train.tsv dirty.tsv
sed -i '101s/^./7/; 205s/\t/ /; 3001s/^.*$/1\tx/; 4000s/^.*$//' dirty.tsv  # 3 bad, 1 blank
cat > job.yaml <<YAML
data:
  train: [$WORK/data/train.tsv]
  test: [$WORK/data/test.tsv]
train:
  progress_seconds: 0.1
YAML

"$PSREC" prep --help > help.txt
for f in -c --set --out --block-rows --level --verify --inspect --read --workers --worker \
         --prefetch --shuffle-buffer --seed --epochs; do
  grep -q -- "$f" help.txt || fail "prep --help does not describe $f"
done
"$PSREC" --help | grep -q "prep" || fail "psrec --help does not list prep"
ok "help texts"

# ---- one process -----------------------------------------------------------------------
"$PSREC" prep -c job.yaml --out out1 --block-rows 1000 --verify > p1.out 2> p1.err ||
  fail "prep failed: $(cat p1.err)"
[ "$(field rows result: p1.out)" = 22000 ] || fail "rows: $(grep result: p1.out)"
[ "$(field blocks result: p1.out)" = 22 ] || fail "blocks: $(grep result: p1.out)"
grep -q "verified=20000" p1.out || fail "no verified=20000 line: $(cat p1.out)"
[ -f out1/train/train.tsv.psrb ] && [ -f out1/test/test.tsv.psrb ] || fail "outputs: $(ls -R out1)"
[ -z "$(find out1 -name '*.tmp')" ] || fail "temporary files left: $(find out1 -name '*.tmp')"
"$PSREC" prep --inspect out1/train/train.tsv.psrb out1/test/test.tsv.psrb > insp.out ||
  fail "inspect failed"
grep -q "inspect: files=2 ok=2 failed=0 rows=22000" insp.out || fail "inspect: $(cat insp.out)"
grep -q "39 fields (13 dense, 26 cat), from criteo, int_mode bucket" insp.out ||
  fail "inspect schema: $(cat insp.out)"
ok "1 process: 22000 rows in 22 blocks, verified against the text reader"

# ---- mpirun -np 2: plain, .gz and dirty text; malformed rows reported as file:line ---------
mpi 120 2 -- prep -c job.yaml --out out2 --block-rows 1000 --verify \
  --set "data.train=[$WORK/data/train.tsv, $WORK/gz/part2.tsv.gz, $WORK/dirty.tsv]" \
  > p2.out 2> p2.err || fail "mpirun prep failed: $(cat p2.err)"
[ "$(field rows result: p2.out)" = $((20000 + 7000 + 19996 + 2000)) ] ||
  fail "rows: $(grep result: p2.out)"
[ "$(field bad_rows result: p2.out)" = 3 ] || fail "bad rows: $(grep result: p2.out)"
[ "$(field files result: p2.out)" = 4 ] || fail "files: $(grep result: p2.out)"
for l in 101 205 3001; do
  grep -q "dirty.tsv:$l: malformed row" p2.err || fail "line $l not reported: $(cat p2.err)"
done
grep -q "verified=19996" p2.out || fail "dirty.tsv not verified: $(cat p2.out)"
grep -q "verified=7000" p2.out || fail "part2.tsv.gz not verified: $(cat p2.out)"
grep -q "^psrec\[1 prep\]: prep: .* -> " p2.out || fail "rank 1 converted nothing: $(cat p2.out)"
cmp out1/train/train.tsv.psrb out2/train/train.tsv.psrb ||
  fail "1 process and 2 ranks wrote different bytes for train.tsv"
ok "mpirun -np 2: 4 files, 48996 rows, 3 malformed rows reported, same bytes as 1 process"

# ---- reading: shares and shuffle keep every row exactly once --------------------------------
"$PSREC" prep --read out2/train/*.psrb --workers 1 --prefetch 0 > r1.out
set1=$(field set_digest "read: workers" r1.out)
ord1=$(field order_digest "read: worker=" r1.out)
[ "$(field rows "read: workers" r1.out)" = 46996 ] || fail "read rows: $(cat r1.out)"
for w in 2 3 7; do
  "$PSREC" prep --read out2/train/*.psrb --workers $w > rw.out
  [ "$(field set_digest "read: workers" rw.out)" = "$set1" ] || fail "$w workers: $(cat rw.out)"
  [ "$(field rows "read: workers" rw.out)" = 46996 ] || fail "$w workers rows: $(cat rw.out)"
  lo=$(grep "read: worker=" rw.out | sed 's/.* blocks=\([0-9]*\).*/\1/' | sort -n | head -1)
  hi=$(grep "read: worker=" rw.out | sed 's/.* blocks=\([0-9]*\).*/\1/' | sort -n | tail -1)
  [ $((hi - lo)) -le 1 ] || fail "$w workers: shares of $lo to $hi blocks"
done
"$PSREC" prep --read out2/train/*.psrb --prefetch 3 > rp.out
[ "$(field order_digest "read: worker=" rp.out)" = "$ord1" ] || fail "prefetch changed the order"
"$PSREC" prep --read out2/train/*.psrb --shuffle-buffer 3000 --seed 5 --epochs 2 > s1.out
"$PSREC" prep --read out2/train/*.psrb --shuffle-buffer 3000 --seed 5 --epochs 2 --prefetch 0 > s2.out
"$PSREC" prep --read out2/train/*.psrb --shuffle-buffer 3000 --seed 5 > s3.out
[ "$(field order_digest "read: worker=" s1.out)" = "$(field order_digest "read: worker=" s2.out)" ] ||
  fail "shuffle with one seed differs between runs"
[ "$(field order_digest "read: worker=" s3.out)" != "$ord1" ] || fail "shuffle kept the order"
[ "$(field set_digest "read: workers" s3.out)" = "$set1" ] || fail "shuffle lost or changed rows"
ok "2, 3, 7 workers and the shuffle read every row once; shares within one block"

# ---- damaged files ---------------------------------------------------------------------------
cp out1/train/train.tsv.psrb bad.psrb
size=$(stat -c %s bad.psrb)
printf '\xff' | dd of=bad.psrb bs=1 seek=$((size / 2)) conv=notrunc status=none
set +e
"$PSREC" prep --inspect bad.psrb > bad.out 2> bad.err; rc=$?
set -e
[ $rc -eq 1 ] || fail "inspect of a corrupted file exited $rc"
grep -Eq "bad.psrb: block [0-9]+: corrupt" bad.err || fail "corruption message: $(cat bad.err)"
cp out1/train/train.tsv.psrb cut.psrb
truncate -s $((size - 100)) cut.psrb
set +e
"$PSREC" prep --read cut.psrb > cut.out 2> cut.err; rc=$?
set -e
[ $rc -ne 0 ] || fail "reading a truncated file succeeded"
grep -q "cut.psrb: truncated" cut.err || fail "truncation message: $(cat cut.err)"
ok "a flipped byte names the file and block; truncation is detected"

# ---- MovieLens "::" and a csv with a multi-valued column, generated here ----------------------
awk 'BEGIN { srand(7); for (i = 0; i < 3000; i++)
       printf "%d::%d::%d::%d\n", 1 + int(rand() * 100), 1 + int(rand() * 400), 1 + int(rand() * 5), 978300000 + i;
     print "12::34::five::0" }' > ratings.dat
gzip -c ratings.dat > ratings2.dat.gz
cat > ml.yaml <<YAML
data:
  format: movielens
  train: [$WORK/ratings.dat, $WORK/ratings2.dat.gz]
YAML
"$PSREC" prep -c ml.yaml --out ml --verify > ml.out 2> ml.err || fail "movielens prep: $(cat ml.err)"
[ "$(field rows result: ml.out)" = 6000 ] || fail "movielens rows: $(grep result: ml.out)"
[ "$(field bad_rows result: ml.out)" = 2 ] || fail "movielens bad rows: $(grep result: ml.out)"
grep -q "ratings.dat:3001: malformed row: label (column 3): 'five' is not a number" ml.err ||
  fail "movielens bad row message: $(cat ml.err)"
"$PSREC" prep --inspect ml/train/ratings.dat.psrb ml/train/ratings2.dat.psrb > mli.out
grep -q "3 fields (1 user, 1 item, 1 time), from movielens" mli.out || fail "movielens schema: $(cat mli.out)"

awk 'BEGIN { srand(9); print "click,price,site,tags,user,item";
       for (i = 0; i < 2500; i++) {
         n = int(rand() * 4); t = "";
         for (k = 0; k < n; k++) t = t (k ? "|" : "") "tag" int(rand() * 50);
         printf "%d,%.2f,s%d,%s,u%d,i%d\n", rand() < 0.3, rand() * 100, int(rand() * 20), t, int(rand() * 300), int(rand() * 900) } }' > events.csv
cat > csv.yaml <<YAML
data:
  format: csv
  train: $WORK/events.csv
  columns: [label, dense, cat, multi, user, item]
  header_lines: 1
YAML
"$PSREC" prep -c csv.yaml --out csv --verify --block-rows 300 > csv.out 2> csv.err ||
  fail "csv prep: $(cat csv.err)"
[ "$(field rows result: csv.out)" = 2500 ] || fail "csv rows: $(grep result: csv.out)"
"$PSREC" prep --inspect csv/train/events.csv.psrb > csvi.out
grep -q "5 fields (1 dense, 1 cat, 1 multi, 1 user, 1 item), from csv" csvi.out ||
  fail "csv schema: $(cat csvi.out)"
[ "$("$PSREC" prep --read csv/train/events.csv.psrb --workers 2 | field rows "read: workers" /dev/stdin)" = 2500 ] ||
  fail "csv read rows"
ok "MovieLens (plain and .gz) and csv with multi-valued tags converted and verified"

# ---- failures ------------------------------------------------------------------------------------
set +e
mpi 120 2 -- prep -c job.yaml --out out3 --set "data.train=[$WORK/dirty.tsv, $WORK/data/test.tsv]" \
  --set data.max_bad_rows=2 > f1.out 2> f1.err; rc=$?
set -e
[ $rc -eq 1 ] || fail "over max_bad_rows: exit $rc (expected 1; 124/137 = hung)"
grep -q "dirty.tsv:3001: malformed row: .* 3 malformed rows exceed data.max_bad_rows=2" f1.err ||
  fail "limit message: $(cat f1.err)"
[ ! -e out3/train/dirty.tsv.psrb ] && [ -z "$(find out3 -name '*.tmp')" ] ||
  fail "a failed file left output: $(find out3)"
ok "a file over data.max_bad_rows fails the job (exit 1) and leaves nothing"

expect_exit() { # expect_exit CODE PATTERN psrec-args...
  local code=$1 pat=$2 rc
  shift 2
  set +e
  "$PSREC" "$@" > e.out 2> e.err; rc=$?
  set -e
  [ $rc -eq "$code" ] || fail "psrec $*: exit $rc, expected $code ($(cat e.err))"
  grep -q -- "$pat" e.err || fail "psrec $*: message '$(cat e.err)' lacks '$pat'"
}
printf 'data:\n  format: csv\n  train: x.csv\n  columns: [label, catt]\n' > bad.yaml
expect_exit 2 "bad.yaml:4: key 'data.columns' item 2: found 'catt'" prep -c bad.yaml --out x
expect_exit 2 "data.format is csv but data.columns is empty" prep -c job.yaml --out x --set data.format=csv
expect_exit 2 "out DIR is required" prep -c job.yaml
expect_exit 2 "no such file" prep -c job.yaml --out x --set data.train=nothere.tsv
expect_exit 2 "would both be written to" prep -c job.yaml --out x \
  --set "data.train=[$WORK/data/train.tsv, $WORK/out1/../data/train.tsv]"
expect_exit 2 "is out of range" prep -c job.yaml --out x --block-rows 0
expect_exit 1 "already a block file" prep -c job.yaml --out x --set "data.train=$WORK/out1/train/train.tsv.psrb" \
  --set data.max_bad_rows=0
ok "bad configs and command lines: exit 2 (a block file given as text: 1) with a message"
done_checks
