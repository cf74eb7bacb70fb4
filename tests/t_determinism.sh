# t_determinism: one worker at staleness 0 is deterministic bit for bit: two runs print the
# same parameter digest and the same metrics; a different seed changes the digest.
source "$(dirname "$0")/lib.sh"
ROWS=60000 TEST_ROWS=10000 gen_data
STALENESS=0 ROWS=60000 base_cfg job.yaml
for i in 1 2; do
  mpi 120 2 -- train -c job.yaml --set train.max_steps=80 > run$i.out 2> run$i.err ||
    fail "run $i failed: $(tail -n 20 run$i.err)"
done
d1=$(grep '^digest:' run1.out); d2=$(grep '^digest:' run2.out)
[ -n "$d1" ] && [ "$d1" = "$d2" ] || fail "digests differ: '$d1' vs '$d2'"
ok "same digest: $d1"
m1=$(grep '^result:' run1.out | cut -d' ' -f2-4); m2=$(grep '^result:' run2.out | cut -d' ' -f2-4)
[ "$m1" = "$m2" ] || fail "metrics differ: '$m1' vs '$m2'"
ok "same metrics: $m1"
mpi 120 2 -- train -c job.yaml --set train.max_steps=80 --set train.seed=4 > run3.out 2> run3.err ||
  fail "run 3 failed"
d3=$(grep '^digest:' run3.out)
[ "$d3" != "$d1" ] || fail "another seed gave the same digest"
ok "another seed, another digest"
done_checks
