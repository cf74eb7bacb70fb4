# t_train_tcp: the same job over the TCP transport (--mca btl tcp,self), 1 server + 2 workers.
source "$(dirname "$0")/lib.sh"
gen_data
WORKERS=2 BATCH=256 base_cfg job.yaml
mpi 240 3 --mca btl tcp,self -- train -c job.yaml > out.txt 2> err.txt ||
  fail "run failed: $(tail -n 20 err.txt)"
check_auc out.txt 0.01
done_checks
