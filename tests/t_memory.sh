# t_memory: memory control of embedding tables on a job, with data whose id counts are known:
# N rows whose 26 categorical tokens are all distinct (each id occurs once per epoch) and whose
# 13 integer fields are empty (13 ids present in every row), plus the bias.
#  - min_count 2: one epoch admits only the 13 + 1 ids seen in every batch (at their second
#    batch) and rejects every categorical id's gradient; a second epoch admits each categorical id at its second push.
#  - max_rows: no server ever holds more rows than the limit (peak_rows), the overflow is
#    evicted, and training still finishes.
#  - ttl_steps: rows not updated within the window are dropped, so the table stays bounded by
#    what the last ttl_steps (+1/8) steps touched.
source "$(dirname "$0")/lib.sh"
N=4000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) { printf "%d", i % 3 == 0;
  for (f = 0; f < 13; f++) printf "\t";
  for (c = 0; c < 26; c++) printf "\tr%dc%d", i, c; printf "\n" } }' > uniq.tsv
cat > mem.yaml <<YAML
cluster: {servers: 2}
data: {train: [$WORK/uniq.tsv]}
model: {type: fm, dim: 4}
optimizer: {lr: 0.01}
train: {epochs: 1, batch_size: 100, max_staleness: 0, seed: 1}
YAML
# sum of KEY= over the servers' lines of output $1
sum() { grep ' server [0-9]*: rows=' "$2" | grep -o " $1=[0-9]*" | cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }'; }
max() { grep ' server [0-9]*: rows=' "$2" | grep -o " $1=[0-9]*" | cut -d= -f2 | awk 'BEGIN { m = 0 } { if ($1 > m) m = $1 } END { print m }'; }
run() { local out=$1; shift; mpi 120 3 -- train -c mem.yaml "$@" > $out 2> $out.err ||
  fail "run $out failed: $(tail -n 20 $out.err)"; }

run base.out
rows=$(sum rows base.out)
[ "$rows" -eq $((26 * N + 14)) ] || fail "without limits: $rows rows, expected $((26 * N + 14))"
ok "without limits: $rows rows (26 x $N categorical ids + 13 empty-integer ids + bias)"

run mc1.out --set embedding.min_count=2
rows=$(sum rows mc1.out); rej=$(sum rejections mc1.out)
[ "$rows" -eq 14 ] || fail "min_count 2, one epoch: $rows rows, expected 14 (ids seen once get none)"
# every id's first push is dropped: 26 N categorical ids + the 14 in the first batch
[ "$rej" -eq $((26 * N + 14)) ] || fail "min_count 2, one epoch: $rej rejections, expected $((26 * N + 14))"
ok "min_count 2, one epoch: $rows rows, $rej first pushes dropped"
run mc2.out --set embedding.min_count=2 --set train.epochs=2
rows=$(sum rows mc2.out); adm=$(sum admissions mc2.out)
[ "$rows" -eq $((26 * N + 14)) ] && [ "$adm" -eq "$rows" ] ||
  fail "min_count 2, two epochs: $rows rows / $adm admissions, expected $((26 * N + 14))"
ok "min_count 2, two epochs: every id admitted at its second occurrence ($rows rows)"

LIMIT=3000
run mr.out --set embedding.max_rows=$LIMIT --set train.epochs=2
peak=$(max peak_rows mr.out); rows=$(max rows mr.out); ev=$(sum evictions mr.out)
[ "$peak" -le $LIMIT ] || fail "max_rows $LIMIT: a server held $peak rows"
[ "$ev" -gt 0 ] && [ "$(sum admissions mr.out)" -eq $(( $(sum rows mr.out) + ev )) ] ||
  fail "max_rows $LIMIT: evictions $ev do not account for admissions - rows"
grep -q '^result:' mr.out || fail "max_rows: no result line"
ok "max_rows $LIMIT: peak $peak rows per server, $ev evictions, admissions = rows + evictions"

TTL=8
run ttl.out --set embedding.ttl_steps=$TTL
rows=$(sum rows ttl.out); exp=$(sum expired ttl.out)
bound=$(( (TTL + TTL / 8 + 1) * 100 * 26 + 14 ))
[ "$exp" -gt 0 ] && [ "$rows" -le "$bound" ] ||
  fail "ttl_steps $TTL: $rows rows left ($exp expired), expected at most $bound"
[ "$(sum admissions ttl.out)" -eq $((rows + exp)) ] || fail "ttl_steps: admissions != rows + expired"
ok "ttl_steps $TTL: $exp rows expired, $rows left (bound $bound)"
done_checks
