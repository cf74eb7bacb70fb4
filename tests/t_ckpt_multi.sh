# t_ckpt_multi: checkpoints of an asynchronous job with 2 servers and 3 workers.
#  - SIGUSR1 to mpirun: checkpoint at the next step boundary, `preempted:`, exit 0; SIGTERM to
#    launch/psrec-mpirun likewise.
#  - --resume auto completes the run, and the examples trained over all runs are exactly the
#    uninterrupted run's: same count, same order-independent hash (none skipped or repeated).
#  - Elastic: the checkpoint loads on 1 server + 2 workers, and on 3 servers + 1 worker, with
#    every row and its optimizer state intact (same digest as `psrec ckpt inspect`).
#  - Crash: SIGKILL of one worker ends the whole job with a non-zero status within seconds;
#    --resume auto then completes it, again with the exact example count and hash.
source "$(dirname "$0")/lib.sh"
ROWS=60000 TEST_ROWS=5000 gen_data
SERVERS=2 WORKERS=3 ROWS=60000 EPOCHS=30 BATCH=64 LR=0.002 STALENESS=2 base_cfg job.yaml
NP=5
data_line() { grep '^data: examples' "$1" | cut -d' ' -f2-3; }

mpi 300 $NP -- train -c job.yaml > full.out 2> full.err ||
  fail "uninterrupted run failed: $(tail -n 20 full.err)"
want=$(data_line full.out)
[ -n "$want" ] || fail "no data line in full.out"
ok "uninterrupted: $want"

# run in the background until it has trained a while, then deliver $2 to the launcher $1
preempt() {
  local launcher=$1 sig=$2 out=$3 ck=$4
  $launcher --oversubscribe --bind-to none -np $NP "$PSREC" train -c job.yaml \
    --set checkpoint.dir=$ck --resume auto > $out 2> $out.err &
  local pid=$! i
  # once rank 0 has printed the config, every rank has its handlers (installed right after
  # MPI_Init); the job then stops at its first control point, a few steps into training
  for i in $(seq 1 300); do
    grep -q 'effective config' $out 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  sleep 0.2
  kill -$sig $pid 2>/dev/null || fail "$launcher ended before it got SIG$sig: $(tail -n 5 $out)"
  local rc=0
  wait $pid || rc=$?
  [ $rc -eq 0 ] || fail "$launcher got SIG$sig and exited $rc, expected 0: $(tail -n 20 $out.err)"
  grep -q '^preempted: checkpoint at step' $out || fail "no 'preempted:' line in $out: $(tail -n 5 $out)"
  ok "SIG$sig to $(basename $launcher): $(grep '^preempted:' $out)"
}

LAUNCHER="$(dirname "$0")/../launch/psrec-mpirun"
preempt mpirun USR1 p1.out $WORK/ck
step1=$(sed -n 's/^preempted: checkpoint at step \([0-9]*\).*/\1/p' p1.out)
preempt "$LAUNCHER" TERM p2.out $WORK/ck
mpi 300 $NP -- train -c job.yaml --set checkpoint.dir=$WORK/ck --resume auto > r.out 2> r.err ||
  fail "resumed run failed: $(tail -n 20 r.err)"
got=$(data_line r.out)
[ "$got" = "$want" ] || fail "after two preemptions and a resume: '$got', uninterrupted: '$want'"
ok "two preemptions + resume trained exactly the uninterrupted examples: $got"

# elastic: the first preemption's checkpoint on other server and worker counts, no training
ck1=$WORK/ck/ckpt-$(printf '%012d' $step1)
[ -d "$ck1" ] || ck1=$(ls -d $WORK/ck/ckpt-* | head -n 1) # pruned: the oldest kept
d_ck=$("$PSREC" ckpt inspect "$ck1" | sed -n 's/^digest: //p')
s_ck=$("$PSREC" ckpt inspect "$ck1" | sed -n 's/^step: \([0-9]*\).*/\1/p')
for layout in "1 3" "3 4"; do
  set -- $layout
  mpi 120 $2 -- train -c job.yaml --set cluster.servers=$1 --set train.max_steps=$s_ck \
    --resume "$ck1" > el-$1.out 2> el-$1.err || fail "elastic resume on $1 servers failed: $(tail -n 20 el-$1.err)"
  d=$(grep '^digest:' el-$1.out | cut -d' ' -f2)
  [ "$d" = "$d_ck" ] || fail "loaded on $1 servers + $(($2 - $1)) workers: digest $d, checkpoint $d_ck"
  ok "checkpoint of 2 servers + 3 workers loaded on $1 servers + $(($2 - $1)) workers: digest $d intact"
done

# crash: SIGKILL one worker; the job must end non-zero within seconds; resume completes it
rm -rf $WORK/ck2
mpirun --oversubscribe --bind-to none -np $NP "$PSREC" train -c job.yaml \
  --set checkpoint.dir=$WORK/ck2 --set checkpoint.every_steps=200 > k.out 2> k.err &
pid=$!
for i in $(seq 1 300); do [ -d $WORK/ck2/ckpt-000000000200 ] && break; sleep 0.1; done
[ -d $WORK/ck2/ckpt-000000000200 ] || fail "no checkpoint at step 200 to crash after"
victim=$(pgrep -P $pid psrec | tail -n 1 || true)
[ -n "$victim" ] || fail "no rank process found under mpirun $pid"
kill -KILL $victim
t0=$(date +%s)
rc=0
timeout 30 tail --pid=$pid -f /dev/null || fail "the job still runs 30 s after a rank was killed"
wait $pid || rc=$?
t1=$(date +%s)
[ $rc -ne 0 ] || fail "the job exited 0 after a rank was killed"
ok "SIGKILL of one rank: the job ended with status $rc after $((t1 - t0)) s"
mpi 300 $NP -- train -c job.yaml --set checkpoint.dir=$WORK/ck2 --set checkpoint.every_steps=200 \
  --resume auto > kr.out 2> kr.err || fail "resume after the crash failed: $(tail -n 20 kr.err)"
got=$(data_line kr.out)
[ "$got" = "$want" ] || fail "after a crash and a resume: '$got', uninterrupted: '$want'"
ok "crash + resume trained exactly the uninterrupted examples: $got"
done_checks
