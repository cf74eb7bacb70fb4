# t_cluster_scripts: the job scripts launch/slurm.sbatch and launch/pbs.qsub.
#  - Both parse (bash -n), as does launch/psrec-mpirun.
#  - Outside a scheduler each runs psrec on this machine (mpirun --oversubscribe, 2 ranks) on
#    generated data, with cluster-configs/local.yaml and the data given through PSREC_ARGS:
#    a `result:` line, a checkpoint in PSREC_CKPT_DIR; run again, `--resume auto` finds that
#    checkpoint and trains nothing more (same examples and hash).
#  - A signal to the script (SIGUSR1 to slurm.sbatch, SIGTERM to pbs.qsub) or pbs.qsub's
#    walltime timer (PSREC_WALLTIME) makes psrec checkpoint and exit 0 (`preempted:`); the next
#    run resumes from exactly that step.
#  - Inside a (pretend) scheduler, with stubs for the launcher, scontrol, qstat and qsub: the
#    rank count comes from SLURM_NTASKS / PBS_NODEFILE, no --oversubscribe, the checkpoint
#    directory is named after the job, and after SIGUSR1 (Slurm) or the walltime timer (PBS)
#    the job is requeued (scontrol requeue ID) or resubmitted (qsub ... depend=afterany:ID);
#    after SIGTERM it is not.
#  - Bad settings stop the script with exit 2 and a message naming the variable.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)
SLURM=$SRC/launch/slurm.sbatch
PBS=$SRC/launch/pbs.qsub

# whatever scheduler runs this test must not be seen by the scripts (nor by mpirun)
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(SLURM_|SBATCH_|PBS_)' || true)

for s in "$SLURM" "$PBS" "$SRC/launch/psrec-mpirun"; do
  bash -n "$s" || fail "bash -n $s"
done
ok "bash -n: slurm.sbatch, pbs.qsub, psrec-mpirun"

"$PSREC" gen --rows 20000 --test-rows 2000 --seed 7 --out "$WORK/data" > gen.out ||
  fail "psrec gen failed: $(cat gen.out)"
DATA_ARGS="--set data.train=[$WORK/data/train.tsv] --set data.test=[$WORK/data/test.tsv]"
export PSREC_BIN=$PSREC PSREC_CONFIG=$SRC/cluster-configs/local.yaml

# run_script SCRIPT OUT [VAR=value ...]: the script in the background under a time limit, its
# pid in $SPID (the script itself, not `timeout`, so that signals reach it)
run_script() {
  local script=$1 out=$2
  shift 2
  env "$@" timeout -k 10 240 bash "$script" > "$out" 2> "$out.err" &
  TPID=$!
  SPID=""
  local _
  for _ in $(seq 1 100); do
    SPID=$(pgrep -P "$TPID" | head -n 1 || true)
    [ -n "$SPID" ] && break
    sleep 0.05
  done
  [ -n "$SPID" ] || fail "$script did not start: $(cat "$out.err")"
}
finish() { # wait for the script started by run_script; its status in $RC
  RC=0
  wait "$TPID" || RC=$?
}
wait_for() { # wait_for FILE PATTERN: until PATTERN appears in FILE (or the script ends)
  local _
  for _ in $(seq 1 600); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$TPID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
data_line() { grep '^data: examples' "$1" | cut -d' ' -f2-4; }

# ---- outside a scheduler: run, then run again (--resume auto finds the checkpoint) --------
for script in "$SLURM" "$PBS"; do
  name=$(basename "$script")
  ck=$WORK/ck-$name
  run_script "$script" "$name-1.out" PSREC_CKPT_DIR="$ck" PSREC_ARGS="$DATA_ARGS"
  finish
  [ "$RC" -eq 0 ] || fail "$name: local run exited $RC: $(tail -n 20 "$name-1.out.err")"
  grep -q "^$name: no .*: running on this machine with 2 ranks" "$name-1.out" ||
    fail "$name: did not say it runs locally: $(head -n 3 "$name-1.out")"
  grep -q -- "--oversubscribe -np 2 " "$name-1.out" ||
    fail "$name: the local command lacks --oversubscribe -np 2: $(grep "$name:" "$name-1.out")"
  grep -q '^result: auc=' "$name-1.out" || fail "$name: no result line: $(tail -n 5 "$name-1.out")"
  grep -q "no checkpoint in '$ck': starting fresh" "$name-1.out" ||
    fail "$name: first run did not start fresh: $(grep resume "$name-1.out")"
  [ -f "$ck/latest" ] || fail "$name: no checkpoint in $ck: $(ls "$ck" 2>&1)"
  last=$(cat "$ck/latest")
  ok "$name: local run: $(grep '^result:' "$name-1.out" | cut -d' ' -f2-3), checkpoint $last"

  run_script "$script" "$name-2.out" PSREC_CKPT_DIR="$ck" PSREC_ARGS="$DATA_ARGS"
  finish
  [ "$RC" -eq 0 ] || fail "$name: second run exited $RC: $(tail -n 20 "$name-2.out.err")"
  grep -q "resume: checkpoint $ck/$last (step" "$name-2.out" ||
    fail "$name: second run did not resume from $ck/$last: $(grep resume "$name-2.out")"
  grep -q '^result: auc=' "$name-2.out" || fail "$name: second run: no result line"
  a=$(data_line "$name-1.out") b=$(data_line "$name-2.out")
  { [ -n "$a" ] && [ "$a" = "$b" ]; } || fail "$name: resumed finished job trained more: '$a' vs '$b'"
  ok "$name: second run resumed from $last and trained nothing more ($b)"
done

# ---- preemption: a signal to the script, or pbs.qsub's walltime timer ----------------------
# preempt SCRIPT SIG|timer: a long job stopped by SIG (after training has started) or by the
# timer; then a resumed run of 40 more steps
preempt() {
  local script=$1 how=$2 name ck step
  name=$(basename "$script")-$how
  ck=$WORK/ck-$name
  local long="$DATA_ARGS --set train.epochs=1000"
  if [ "$how" = timer ]; then
    run_script "$script" "$name.out" PSREC_CKPT_DIR="$ck" PSREC_ARGS="$long" \
      PSREC_WALLTIME=0:10 PSREC_SIGNAL_MARGIN=4
  else
    run_script "$script" "$name.out" PSREC_CKPT_DIR="$ck" PSREC_ARGS="$long"
    # rank 0 prints the config once every rank has its handlers (right after MPI_Init)
    wait_for "$name.out" 'effective config' || fail "$name: psrec did not start: $(tail "$name.out.err")"
    sleep 1
    kill -"$how" "$SPID" || fail "$name: the script ended before SIG$how"
  fi
  finish
  [ "$RC" -eq 0 ] || fail "$name: exited $RC after SIG$how, expected 0: $(tail -n 20 "$name.out.err")"
  step=$(sed -n 's/^preempted: checkpoint at step \([0-9]*\) in .*/\1/p' "$name.out")
  [ -n "$step" ] || fail "$name: no 'preempted:' line: $(tail -n 5 "$name.out")"
  grep -q "run this script again to continue" "$name.out" ||
    fail "$name: the script did not say how to continue: $(tail -n 3 "$name.out")"
  [ "$how" != timer ] ||
    grep -Eq "^pbs.qsub: asking for a checkpoint in [56] s \(4 s before the walltime of 10 s\)" \
      "$name.out" || fail "$name: timer not announced: $(grep asking "$name.out")"
  ok "$name: checkpoint at step $step, exit 0"

  local to=$((step + 40))
  run_script "$script" "$name-resumed.out" PSREC_CKPT_DIR="$ck" \
    PSREC_ARGS="$long --set train.max_steps=$to"
  finish
  [ "$RC" -eq 0 ] || fail "$name: resumed run exited $RC: $(tail -n 20 "$name-resumed.out.err")"
  grep -q "resume: checkpoint $ck/ckpt-$(printf %012d "$step") (step $step" "$name-resumed.out" ||
    fail "$name: did not resume at step $step: $(grep resume "$name-resumed.out")"
  grep -q "^data: examples=.* steps=$to\$" "$name-resumed.out" ||
    fail "$name: resumed run did not reach step $to: $(grep '^data:' "$name-resumed.out")"
  grep -q '^result: auc=' "$name-resumed.out" || fail "$name: resumed run: no result line"
  ok "$name: next run resumed at step $step and went on to step $to"
}
preempt "$SLURM" USR1
preempt "$PBS" TERM
preempt "$PBS" timer

# ---- inside a pretend scheduler, with stubs ------------------------------------------------
mkdir -p stubs
cat > stubs/mpirun <<'SH'
#!/usr/bin/env bash
# records its arguments, then runs until SIGUSR1 (exit 0, as psrec after a checkpoint)
printf '%s\n' "$*" > "$STUB_LOG.args"
trap 'echo got-USR1 >> "$STUB_LOG.args"; exit 0' USR1
for _ in $(seq 1 600); do sleep 0.1; done
exit 3
SH
cat > stubs/scontrol <<'SH'
#!/usr/bin/env bash
echo "scontrol $*" >> "$STUB_LOG.sched"
SH
cat > stubs/qsub <<'SH'
#!/usr/bin/env bash
echo "qsub $*" >> "$STUB_LOG.sched"
SH
cat > stubs/qstat <<'SH'
#!/usr/bin/env bash
[ "$1 $2" = "-f 77.pbs" ] || exit 1
printf 'Job Id: 77.pbs\n    Job_Name = stubjob\n    Resource_List.walltime = 00:00:05\n'
SH
chmod +x stubs/*
printf 'node1\nnode1\nnode2\n' > nodefile
mkdir -p submit

# sched SCRIPT HOW LOG: run SCRIPT as a job of its scheduler, stopped by HOW (USR1, TERM or
# the PBS walltime timer); every run writes to LOG.args (launcher) and LOG.sched (scontrol/qsub)
sched() {
  local script=$1 how=$2 log=$WORK/$3
  local name
  name=$(basename "$3")
  local vars=(PATH="$WORK/stubs:$PATH" STUB_LOG="$log" PSREC_MPIRUN="$WORK/stubs/mpirun")
  if [[ "$script" == *slurm* ]]; then
    vars+=(SLURM_JOB_ID=4242 SLURM_NTASKS=3 SLURM_JOB_NAME=stubjob SLURM_SUBMIT_DIR="$WORK/submit")
  else
    vars+=(PBS_JOBID=77.pbs PBS_JOBNAME=stubjob PBS_O_WORKDIR="$WORK/submit"
           PBS_NODEFILE="$WORK/nodefile" PSREC_SIGNAL_MARGIN=3)
  fi
  cd "$WORK/submit" || fail "cd $WORK/submit"
  run_script "$script" "$WORK/$name.out" "${vars[@]}"
  cd "$WORK" || fail "cd $WORK"
  local _
  for _ in $(seq 1 100); do [ -s "$log.args" ] && break; sleep 0.05; done
  [ -s "$log.args" ] || fail "$name: the launcher stub was not run: $(cat "$WORK/$name.out.err")"
  [ "$how" = timer ] || kill -"$how" "$SPID"
  finish
  [ "$RC" -eq 0 ] || fail "$name: exited $RC: $(cat "$WORK/$name.out.err")"
  grep -q got-USR1 "$log.args" || fail "$name: the launcher never got SIGUSR1: $(cat "$WORK/$name.out")"
}

sched "$SLURM" USR1 slurm-usr1
args=$(head -n 1 slurm-usr1.args)
[[ "$args" == "-np 3 $PSREC train -c $PSREC_CONFIG --set checkpoint.dir=$WORK/submit/ckpt-stubjob --resume auto" ]] ||
  fail "slurm: launcher arguments: '$args'"
[ "$(cat slurm-usr1.sched 2>/dev/null)" = "scontrol requeue 4242" ] ||
  fail "slurm: after SIGUSR1 expected 'scontrol requeue 4242', got '$(cat slurm-usr1.sched 2>&1)'"
ok "slurm (stubbed): -np \$SLURM_NTASKS, ckpt-\$SLURM_JOB_NAME, no --oversubscribe; SIGUSR1 -> scontrol requeue 4242"

sched "$SLURM" TERM slurm-term
[ ! -e slurm-term.sched ] || fail "slurm: SIGTERM requeued the job: $(cat slurm-term.sched)"
grep -q "run this script again" slurm-term.out || fail "slurm: SIGTERM: $(tail -n 2 slurm-term.out)"
ok "slurm (stubbed): SIGTERM checkpoints without a requeue"

sched "$PBS" timer pbs-timer
args=$(head -n 1 pbs-timer.args)
[[ "$args" == "--hostfile $WORK/nodefile -np 3 $PSREC train -c $PSREC_CONFIG --set checkpoint.dir=$WORK/submit/ckpt-stubjob --resume auto" ]] ||
  fail "pbs: launcher arguments: '$args'"
grep -q "walltime 00:00:05" pbs-timer.out || fail "pbs: walltime not read from qstat: $(head -n 3 pbs-timer.out)"
[ "$(cat pbs-timer.sched 2>/dev/null)" = "qsub -V -N stubjob -W depend=afterany:77.pbs $SRC/launch/pbs.qsub" ] ||
  fail "pbs: after the walltime timer expected a qsub of the script, got '$(cat pbs-timer.sched 2>&1)'"
ok "pbs (stubbed): --hostfile \$PBS_NODEFILE -np 3, walltime from qstat, timer -> qsub depend=afterany"

sched "$PBS" TERM pbs-term
[ ! -e pbs-term.sched ] || fail "pbs: SIGTERM resubmitted the job: $(cat pbs-term.sched)"
ok "pbs (stubbed): SIGTERM checkpoints without a resubmission"

# ---- bad settings: exit 2 with the variable named ------------------------------------------
bad() { # bad SCRIPT NEEDLE VAR=value ...
  local script=$1 needle=$2 rc=0
  shift 2
  env "$@" bash "$script" > bad.out 2> bad.err || rc=$?
  [ "$rc" -eq 2 ] || fail "$(basename "$script") $*: exit $rc, expected 2"
  grep -q -- "$needle" bad.err || fail "$(basename "$script") $*: message '$(cat bad.err)' lacks '$needle'"
}
for script in "$SLURM" "$PBS"; do
  bad "$script" "PSREC_CONFIG: '$WORK/none.yaml' is not a file" PSREC_CONFIG="$WORK/none.yaml"
  bad "$script" "PSREC_RANKS: 'two' is not a positive integer" PSREC_RANKS=two
  bad "$script" "PSREC_BIN: '$WORK/nothere' is not an executable" PSREC_BIN="$WORK/nothere"
  bad "$script" "PSREC_SERVERS: '0' is not a positive integer" PSREC_SERVERS=0
done
bad "$PBS" "PSREC_WALLTIME: '4h' is neither seconds nor" PSREC_WALLTIME=4h
ok "bad PSREC_CONFIG, PSREC_RANKS, PSREC_BIN, PSREC_SERVERS, PSREC_WALLTIME: exit 2, named"
done_checks
