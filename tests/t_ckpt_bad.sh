# t_ckpt_bad: damaged or mismatched checkpoints never crash or hang the loader. Each case
# gives a clear error naming the file and the problem, exit status 2, through --resume DIR;
# `psrec ckpt verify` fails on it; and --resume auto falls back to the older checkpoint with a
# warning naming the bad file.
source "$(dirname "$0")/lib.sh"
ROWS=20000 TEST_ROWS=2000 gen_data
STALENESS=1 ROWS=20000 EPOCHS=1 BATCH=256 base_cfg job.yaml
mpi 120 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck --set checkpoint.every_steps=30 \
  > run.out 2> run.err || fail "training failed: $(tail -n 20 run.err)"
old=$WORK/ck/ckpt-000000000060
new=$(ls -d $WORK/ck/ckpt-* | tail -n 1)
[ -d $old ] && [ "$new" != "$old" ] || fail "expected checkpoints at 60 and later: $(ls $WORK/ck)"
cp -a $WORK/ck $WORK/pristine

# expect_bad NAME PATTERN: --resume of the damaged newest checkpoint fails (exit 2) with
# PATTERN; verify fails; auto falls back to the older one, naming the bad file
expect_bad() {
  local name=$1 pattern=$2 rc=0
  mpi 60 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck --resume $new > $name.out \
    2> $name.err || rc=$?
  [ $rc -eq 2 ] || fail "$name: --resume DIR exited $rc, expected 2: $(tail -n 5 $name.err)"
  grep -q -- "$pattern" $name.err || fail "$name: error does not match '$pattern': $(cat $name.err)"
  ok "$name: --resume DIR: $(grep -m1 'psrec: error' $name.err | cut -c1-200)"
  rc=0
  "$PSREC" ckpt verify $new > $name.verify 2>&1 || rc=$?
  [ $rc -ne 0 ] || fail "$name: ckpt verify exited 0"
  ok "$name: ckpt verify exits $rc"
  if [ "${3:-auto}" = auto ]; then
    mpi 120 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck --resume auto > $name-auto.out \
      2> $name-auto.err || fail "$name: --resume auto failed: $(tail -n 5 $name-auto.err)"
    grep -q "$(basename $new)" $name-auto.err ||
      fail "$name: auto did not name the skipped checkpoint: $(cat $name-auto.err)"
    grep -q "resume: checkpoint .*ckpt-" $name-auto.out ||
      fail "$name: auto did not resume an older checkpoint: $(grep resume $name-auto.out)"
    ok "$name: --resume auto fell back: $(grep -m1 'resume: checkpoint' $name-auto.out | cut -c1-120)"
  fi
  rm -rf $WORK/ck && cp -a $WORK/pristine $WORK/ck
}

rows=$new/server-00000.rows
size=$(stat -c %s $rows)
truncate -s $((size - 100)) $rows
expect_bad truncated "server-00000.rows"

printf '\xff' | dd of=$rows bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_bad flipped "server-00000.rows"

sed -i 's/^format: 1$/format: 99/' $new/manifest.yaml
grep -q '^format: 99' $new/manifest.yaml || fail "could not edit the manifest's format line"
expect_bad version "manifest format 99"

rm $new/manifest.yaml
expect_bad no-manifest "manifest.yaml"

# a config that does not match: another model width, another feature schema, another bucket count
for c in "model.dim=4|model" "data.int_mode=dense|features" "cluster.buckets=1024|buckets"; do
  set="${c%%|*}" pat="${c##*|}" rc=0
  mpi 60 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck --set "$set" --resume auto \
    > mm.out 2> mm.err || rc=$?
  [ $rc -eq 2 ] || fail "--set $set: resume exited $rc, expected 2: $(tail -n 5 mm.err)"
  grep -q "$pat" mm.err || fail "--set $set: error does not mention '$pat': $(cat mm.err)"
  ok "--set $set: $(grep -m1 'psrec: error' mm.err | cut -c1-200)"
done

# --resume DIR that is not a checkpoint; --resume auto without checkpoint.dir
rc=0
mpi 60 2 -- train -c job.yaml --resume $WORK/nowhere > nw.out 2> nw.err || rc=$?
[ $rc -eq 2 ] && grep -q "nowhere" nw.err || fail "--resume of a missing directory: exit $rc: $(cat nw.err)"
ok "--resume DIR missing: $(grep -m1 'psrec: error' nw.err | cut -c1-160)"
rc=0
mpi 60 2 -- train -c job.yaml --resume auto > na.out 2> na.err || rc=$?
[ $rc -eq 2 ] && grep -q "checkpoint.dir" na.err || fail "--resume auto without checkpoint.dir: exit $rc: $(cat na.err)"
ok "--resume auto without checkpoint.dir: $(grep -m1 'psrec: error' na.err | cut -c1-160)"
done_checks
