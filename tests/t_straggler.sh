# t_straggler: one stopped worker stalls nobody beyond the staleness bound. 1 server + 3
# workers on generated rows; worker 2 (rank 3) gets SIGSTOP:
#  - at train.max_staleness=1000 for 10 s: the other two keep training (examples grow while
#    the slowest worker's step stays put), then SIGCONT and the job ends with exactly
#    3 workers x max_steps x batch examples;
#  - at train.max_staleness=0: the other two stop exactly one step ahead of it (the bound:
#    no worker starts step t before every worker has finished t steps), both waiting, and the
#    server keeps printing progress lines; after SIGCONT the job again ends with exact counts.
# Before servers answered with non-blocking sends, server 0 blocked replying to the stopped
# worker and both checks of the first run failed.
source "$(dirname "$0")/lib.sh"
B=4096
write_cfg() { # write_cfg FILE STALENESS MAX_STEPS
  cat > "$1" <<YAML
cluster:
  servers: 1
data:
  source: generate
  gen_rows: 100000000
  gen_seed: 5
model:
  type: fm
  dim: 8
optimizer:
  lr: 0.003
train:
  batch_size: $B
  max_staleness: $2
  max_steps: $3
  seed: 3
  progress_seconds: 1
YAML
}

STOPPED=""
cleanup() { if [ -n "$STOPPED" ]; then kill -CONT "$STOPPED" 2>/dev/null || true; fi; }
trap cleanup EXIT

# pid of the rank RANK of the job whose command line contains TAG
rank_pid() {
  local p
  for p in $(pgrep -f -- "$1"); do
    if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
PL='psrec\[0 server\]: progress:'
nlines() { grep -c "$PL" "$1" || true; }
# value of KEY on the last progress line of FILE
prog() { field "$1" "$PL" "$2"; }

# start a run in the background: start NAME STALENESS MAX_STEPS; sets PID (mpirun's timeout)
start() {
  write_cfg "$WORK/$1.yaml" "$2" "$3"
  mpi 150 4 -- train -c "$WORK/$1.yaml" > "$1.out" 2> "$1.err" &
  PID=$!
  local i
  for i in $(seq 600); do
    [ "$(nlines "$1.out")" -gt 0 ] && break
    kill -0 "$PID" 2>/dev/null || fail "$1: the job ended before training: $(tail -n 5 "$1.err")"
    sleep 0.1
  done
  [ "$(nlines "$1.out")" -gt 0 ] || fail "$1: no progress line within 60 s"
  STOPPED=$(rank_pid "$WORK/$1.yaml" 3) || fail "$1: no process of rank 3 found"
  kill -STOP "$STOPPED"
}
# resume the stopped worker and check the job ends with every example: finish NAME MAX_STEPS
finish() {
  kill -CONT "$STOPPED"
  STOPPED=""
  wait "$PID" || fail "$1: the job failed after SIGCONT: $(tail -n 20 "$1.err")"
  local want=$((3 * $2 * B)) ex dex
  ex=$(field examples result: "$1.out")
  dex=$(field examples data: "$1.out")
  [ "$ex" = "$want" ] && [ "$dex" = "$want" ] ||
    fail "$1: examples result=$ex data=$dex, expected 3 x $2 x $B = $want"
  ok "$1: after SIGCONT the job completed with exactly $want examples"
}

# --- staleness 1000: the others keep training ------------------------------------------
start big 1000 600
sleep 1
e1=$(prog examples big.out); s1=$(prog slowest big.out)
sleep 4
e2=$(prog examples big.out)
sleep 4
e3=$(prog examples big.out); s3=$(prog slowest big.out); w3=$(prog waiting big.out)
echo "stopped worker at step $s1..$s3; examples $e1 -> $e2 -> $e3 during the stop"
[ "$s1" = "$s3" ] || fail "the slowest worker's step moved from $s1 to $s3 while it was stopped"
ge_by "$e2" "$e1" "$B" && ge_by "$e3" "$e2" "$B" ||
  fail "examples did not keep growing while one worker was stopped: $e1 -> $e2 -> $e3"
[ "$w3" = 0 ] || fail "waiting=$w3 with staleness 1000, expected 0"
ok "staleness 1000: the healthy workers trained $((e3 - e1)) examples in 8 s of the stop"
finish big 600

# --- staleness 0: the others stop one step ahead ----------------------------------------
start zero 0 150
sleep 2
n1=$(nlines zero.out); e1=$(prog examples zero.out)
sleep 5
n2=$(nlines zero.out); e2=$(prog examples zero.out)
hi=$(prog step zero.out); lo=$(prog slowest zero.out); w=$(prog waiting zero.out)
echo "progress lines $n1 -> $n2; examples $e1 -> $e2; step=$hi slowest=$lo waiting=$w"
[ "$n2" -ge $((n1 + 3)) ] || fail "server 0 printed $((n2 - n1)) progress lines in 5 s of the stall"
[ "$e1" = "$e2" ] || fail "examples grew from $e1 to $e2 at staleness 0 with a worker stopped"
[ "$((hi - lo))" = 1 ] || fail "step=$hi slowest=$lo: at staleness 0 the others should be 1 ahead"
[ "$w" = 2 ] || fail "waiting=$w, expected the 2 healthy workers"
ok "staleness 0: the 2 others wait 1 step ahead (step=$hi slowest=$lo), examples stay at $e1"
finish zero 150
done_checks
