# t_train_2s3w: 2 servers + 3 workers (oversubscribed on small machines), gzip input split
# over several files, 2 epochs: every example is seen once per epoch and the FM reaches
# within 0.01 AUC of the optimum.
source "$(dirname "$0")/lib.sh"
gen_data
# 3 workers take a third of the steps each: a smaller batch keeps the step count (and AUC) up
SERVERS=2 WORKERS=3 BATCH=256 base_cfg job.yaml
# the training data as 4 .gz parts (more parts than... fewer than workers: exercises line striding)
mkdir -p parts
split -n l/4 -d "$WORK/data/train.tsv" parts/part-
for f in parts/part-*; do gzip "$f"; done
sed -i "s#train: \[.*\]#train: [$WORK/parts/part-*.gz]#" job.yaml
mpi 280 5 -- train -c job.yaml > out.txt 2> err.txt || fail "run failed: $(tail -n 20 err.txt)"
check_auc out.txt 0.01
ex=$(field examples result: out.txt)
[ "$ex" -eq 2000000 ] || fail "examples $ex, expected 2 x 1000000"
ok "2 epochs over 4 gz files with 3 workers: $ex examples"
n=$(grep -c '^psrec\[0 server\]: server [01]: rows=' out.txt)
[ "$n" -eq 2 ] || fail "expected figures for 2 servers, got $n"
r0=$(grep 'server 0: rows=' out.txt | sed 's/.*rows=\([0-9]*\).*/\1/')
r1=$(grep 'server 1: rows=' out.txt | sed 's/.*rows=\([0-9]*\).*/\1/')
[ "$r0" -gt 0 ] && [ "$r1" -gt 0 ] || fail "a server holds no rows ($r0, $r1)"
ok "both servers hold rows ($r0, $r1)"
done_checks
