# t_metrics: train.metrics_file (one JSON object per printed line, appended by a resumed job),
# pct= / eta= on progress lines, the bad_rows total, the resolved schedule line, and psrec plot
# (a PNG drawn by gnuplot; a clear error without gnuplot or with a broken file).
source "$(dirname "$0")/lib.sh"
ROWS=100000 TEST_ROWS=5000 gen_data
# three malformed training rows and one malformed test row among the generated ones
{ head -n 1000 data/train.tsv; echo "bad row 1"; echo "2	x"; head -n 2000 data/train.tsv | tail -n 1000
  echo "label-is-not-0-or-1"; tail -n +2001 data/train.tsv; } > data/train_bad.tsv
{ cat data/test.tsv; echo "broken test row"; } > data/test_bad.tsv

cat > job.yaml <<YAML
data:
  train: [$WORK/data/train.tsv]
  test: [$WORK/data/test.tsv]
model: {type: fm, dim: 4}
optimizer: {lr: 0.003, clip_norm: 10, decay: linear, decay_examples: 200000}
train: {epochs: 2, batch_size: 512, seed: 3, progress_seconds: 0.1, metrics_file: $WORK/m.jsonl}
eval: {every_steps: 40}
checkpoint: {dir: $WORK/ck}
YAML

# JSON check of every line: with jq when it is there (setup.sh installs it), else the keys by grep
check_json() {
  local f=$1
  if command -v jq > /dev/null 2>&1; then
    jq -e -c 'select((.event | IN("progress","eval","checkpoint","result") | not) or
              (.time | type) != "number" or (.rank | type) != "number" or
              (.step | type) != "number")' "$f" > badlines.txt ||
      [ $? -eq 4 ] || fail "$f does not parse as JSON lines: $(jq -c . "$f" 2>&1 | tail -n 2)"
    [ ! -s badlines.txt ] || fail "records without event/time/rank/step: $(head -n 2 badlines.txt)"
  else
    local n
    n=$(grep -c . "$f")
    [ "$(grep -c '^{"event":"[a-z]*","time":[0-9.e+]*,"rank":[0-9]*,"step":[0-9]*.*}$' "$f")" -eq "$n" ] ||
      fail "records of $f without the leading event/time/rank/step"
  fi
}

# 1. two workers, capped at 60 steps: a checkpoint at the end
mpi 120 3 -- train -c job.yaml --set train.max_steps=60 > r1.out 2> r1.err ||
  fail "run 1 failed: $(tail -n 5 r1.err)"
[ -s m.jsonl ] || fail "no metrics file"
check_json m.jsonl
n1=$(wc -l < m.jsonl)
for ev in progress eval checkpoint result; do
  grep -q "^{\"event\":\"$ev\"" m.jsonl || fail "no $ev record in m.jsonl"
done
ok "run 1: $n1 JSON lines with event, time, rank, step; every event present"
# every field of the printed result line is in the result record with the printed value
if command -v jq > /dev/null 2>&1; then
  for kv in $(grep '^result:' r1.out | cut -d' ' -f2-); do
    k=${kv%%=*}; v=${kv#*=}
    got=$(jq -r "select(.event == \"result\") | .[\"$k\"]" m.jsonl | tail -n 1)
    awk -v a="$got" -v b="$v" 'BEGIN { exit !(a == b || a + 0 == b + 0 && a != "null") }' ||
      fail "result field $k: printed $v, metrics file $got"
  done
  ok "result record = the printed result line ($(grep '^result:' r1.out | cut -d' ' -f2-4) ...)"
  # the eval records match the printed eval lines, one for one
  [ "$(jq -r 'select(.event == "eval") | "step=\(.step) auc=\(.auc)"' m.jsonl | tr '\n' ' ')" = \
    "$(grep 'eval: ' r1.out | sed 's/.*eval: \(step=[0-9]*\) auc=\([0-9.]*\).*/\1 auc=\2/' |
       awk '{ split($2, a, "="); printf "%s auc=%s ", $1, a[2] + 0 }')" ] ||
    fail "eval records differ from the eval lines"
  ok "eval records = eval lines ($(grep -c '"event":"eval"' m.jsonl))"
  rank_eval=$(jq -r 'select(.event == "eval") | .rank' m.jsonl | sort -u | tr '\n' ' ')
  [ "$rank_eval" = "1 " ] || fail "eval records from ranks '$rank_eval', expected the first worker (1)"
  ok "eval records from rank 1, progress/checkpoint/result from rank 0"
fi
grep -q '"bad_rows":0' m.jsonl || fail "result record without bad_rows"
grep -q '^result: .* bad_rows=0$' r1.out || fail "result line without bad_rows=0: $(grep '^result:' r1.out)"
ok "bad_rows=0 on the result line and in the record"
# pct= and eta= with train.max_steps: the last progress line is at 100%
last=$(grep 'progress: ' r1.out | tail -n 1)
echo "$last" | grep -q ' pct=100.0 eta=0s$' || fail "last progress line: $last"
grep 'progress: ' r1.out | head -n 1 | grep -q ' pct=[0-9.]* eta=[0-9]*s$' || fail "no pct/eta: $(grep 'progress: ' r1.out | head -n 1)"
ok "progress lines carry pct= and eta= ($last)"
# the schedule line: 200000 examples over 2 workers x 512 = 196 steps (195.3 rounded up)
grep -q 'schedule: lr 0.003: no warmup, then linear decay to 0 x lr at step 196 of each worker (optimizer.decay_examples 200000 / (2 workers x batch 512))' r1.out ||
  fail "schedule line: $(grep 'schedule:' r1.out)"
ok "schedule resolved for 2 workers: $(grep -o 'step 196 of each worker' r1.out)"

# 2. resume, uncapped at 120 steps: the file grows, its first lines stay, steps continue
cp m.jsonl m1.jsonl
mpi 120 3 -- train -c job.yaml --set train.max_steps=120 --resume auto > r2.out 2> r2.err ||
  fail "run 2 failed: $(tail -n 5 r2.err)"
check_json m.jsonl
n2=$(wc -l < m.jsonl)
[ "$n2" -gt "$n1" ] || fail "metrics file did not grow on resume ($n1 -> $n2 lines)"
head -n "$n1" m.jsonl | cmp -s - m1.jsonl || fail "the resumed job rewrote the earlier lines"
first2=$(tail -n +"$((n1 + 1))" m.jsonl | grep -m 1 '"event":"progress"' | sed 's/.*"step":\([0-9]*\),.*/\1/')
[ -n "$first2" ] && [ "$first2" -gt 60 ] || fail "resumed progress starts at step '$first2', not after 60"
ex1=$(grep '"event":"progress"' m1.jsonl | tail -n 1 | sed 's/.*"examples":\([0-9]*\),.*/\1/')
ex2=$(tail -n +"$((n1 + 1))" m.jsonl | grep -m 1 '"event":"progress"' | sed 's/.*"examples":\([0-9]*\),.*/\1/')
[ "$ex2" -gt "$ex1" ] || fail "resumed examples $ex2 do not continue from $ex1"
tail -n 1 m.jsonl | grep -q '^{"event":"result",.*"step":120,' || fail "last record: $(tail -n 1 m.jsonl)"
ok "resume appends: $n1 -> $n2 lines, progress continues at step $first2 (examples $ex1 -> $ex2)"

# 3. psrec plot: a PNG (magic bytes), and clear errors
"$PSREC" plot m.jsonl --out curves.png > plot.out 2> plot.err || fail "psrec plot failed: $(cat plot.err)"
[ -s curves.png ] || fail "curves.png is empty"
[ "$(head -c 8 curves.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "curves.png is not a PNG"
ok "psrec plot: $(cat plot.out) ($(wc -c < curves.png) bytes of PNG)"
set +e
PATH=/nonexistent "$PSREC" plot m.jsonl --out x.png 2> nognu.err; rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'gnuplot is not installed.*gnuplot-nox' nognu.err ||
  fail "without gnuplot: exit $rc, $(cat nognu.err)"
ok "without gnuplot: exit 1, names the package"
{ head -n 3 m.jsonl; echo "not json"; } > broken.jsonl
set +e
"$PSREC" plot broken.jsonl --out x.png 2> broken.err; rc=$?
"$PSREC" plot nothere.jsonl 2> missing.err; rc2=$?
set -e
[ $rc -eq 2 ] && grep -q 'broken.jsonl:4: not a JSON object' broken.err || fail "broken file: exit $rc, $(cat broken.err)"
[ $rc2 -eq 2 ] && grep -q "cannot open metrics file 'nothere.jsonl'" missing.err || fail "missing file: exit $rc2, $(cat missing.err)"
ok "broken or missing metrics file: exit 2 naming file:line"
"$PSREC" plot --help | grep -q -- '--out FILE.png' || fail "plot --help"
"$PSREC" --help | grep -q '^  plot ' || fail "psrec --help does not list plot"
ok "plot --help, listed in psrec --help"

# 4. the malformed rows: 3 in data.train read twice (2 epochs), 1 in data.test read once
mpi 120 2 -- train -c job.yaml --set data.train="[$WORK/data/train_bad.tsv]" \
  --set data.test="[$WORK/data/test_bad.tsv]" --set eval.every_steps=0 --set checkpoint.dir= \
  --set train.metrics_file="$WORK/bad.jsonl" > bad.out 2> bad.err || fail "bad-rows run failed: $(tail -n 5 bad.err)"
grep -q '^result: .* bad_rows=7$' bad.out || fail "expected bad_rows=7: $(grep '^result:' bad.out)"
grep -q '"bad_rows":7' bad.jsonl || fail "bad_rows not 7 in the metrics file"
# one worker: 2 epochs of 100000 rows -> the epoch size is known after the first epoch
grep 'progress: ' bad.out | tail -n 1 | grep -q 'pct=100.0' || fail "no pct=100 at the end: $(grep 'progress: ' bad.out | tail -n 2)"
ok "bad_rows=7 (3 rows x 2 epochs + 1 test row); pct from the epoch size"
# a metrics file that cannot be written is a config error
set +e
mpi 60 2 -- train -c job.yaml --set train.metrics_file=/nonexistent/m.jsonl > nf.out 2> nf.err; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "key 'train.metrics_file': cannot open metrics file '/nonexistent/m.jsonl' for appending" nf.err ||
  fail "unwritable metrics file: exit $rc, $(head -n 2 nf.err)"
ok "unwritable metrics_file: exit 2 naming the key"
done_checks
