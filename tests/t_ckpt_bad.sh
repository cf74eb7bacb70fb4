# t_ckpt_bad: damaged or mismatched checkpoints never crash or hang the loader. Each case
# gives a clear error naming the file and the problem, exit status 2, through --resume DIR;
# `psrec ckpt verify` fails on it; and --resume auto falls back to the older checkpoint with a
# warning naming the bad file. The fault audit's cases (operations issue item 8): a worker
# state from an older checkpoint, a wrong record count, a wrong digest, a FIFO as the manifest
# (sizes and CRCs rewritten to match where they would differ); a checkpoint directory that is
# a link to an older one; a job that cannot write `latest` (warns, succeeds, resumable); a
# wrong digest above rank 0's inflate bound (the servers' loaded digest refuses it); and two
# workers resuming with worker 0's state from the older checkpoint (crashed or hung before).
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
  timeout -k 5 30 "$PSREC" ckpt verify $new > $name.verify 2>&1 || rc=$?
  [ $rc -ne 0 ] || fail "$name: ckpt verify exited 0"
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$name: ckpt verify hung"
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

# What a careful forger (or a confused copy) does: the manifest entry of NAME in $new rewritten
# to the file's present size and CRC32 (gzip's trailer holds the CRC32 of its input), so only
# the file's own header can tell. usage: fix_entry NAME
fix_entry() {
  local f=$new/$1 bytes crc
  bytes=$(stat -c %s $f)
  crc=0x$(gzip -c $f | tail -c 8 | od -An -tx4 -N4 | tr -d ' \n')
  awk -v n="$1" -v b="$bytes" -v c="$crc" '
    /^- name: / { cur = ($3 == n) }
    cur && /^  bytes: / { $0 = "  bytes: " b }
    cur && /^  crc32: / { $0 = "  crc32: " c }
    { print }' $new/manifest.yaml > $WORK/m.tmp && mv $WORK/m.tmp $new/manifest.yaml
  "$PSREC" ckpt verify $new > fix.verify 2>&1 || true
  grep -q "CRC32 .*the manifest lists" fix.verify && fail "fix_entry $1 left a CRC mismatch: $(cat fix.verify)"
  return 0
}

# the fault audit (operations issue item 8): files that pass sizes and CRCs but do not belong
cp $old/worker-00000.state $new/worker-00000.state
fix_entry worker-00000.state
expect_bad stale-state "worker-00000.state: header says step 60"

awk '/^  records: / && !done { $0 = "  records: " $2 + 1; done = 1 } { print }' $new/manifest.yaml \
  > $WORK/m.tmp && mv $WORK/m.tmp $new/manifest.yaml
expect_bad records "server-00000.rows: holds .* records, the manifest lists"

sed -i 's/^digest: 0x.*/digest: 0x0000000000000001/' $new/manifest.yaml
expect_bad digest "manifest.yaml: records model digest 0000000000000001"

# above the bound of rank 0's full check (here 0 bytes) the servers compare the digest of
# what they loaded with the manifest's: refused on every rank (exit 2), no fallback possible
sed -i 's/^digest: 0x.*/digest: 0x0000000000000001/' $new/manifest.yaml
rc=0
mpi 60 2 -x PSREC_RESUME_INFLATE_MAX=0 -- train -c job.yaml --set checkpoint.dir=$WORK/ck \
  --resume $new > dg.out 2> dg.err || rc=$?
[ $rc -eq 2 ] && grep -q "manifest.yaml: records model digest 0000000000000001, but the servers loaded" dg.err ||
  fail "digest checked after loading: exit $rc: $(tail -n 5 dg.err)"
! grep -q "MPI_ABORT" dg.err || fail "digest checked after loading: MPI_ABORT banner: $(cat dg.err)"
ok "digest after loading: $(grep -m1 'psrec: error' dg.err | cut -c1-200)"
rm -rf $WORK/ck && cp -a $WORK/pristine $WORK/ck

rm $new/manifest.yaml && mkfifo $new/manifest.yaml
expect_bad fifo "manifest.yaml: not a regular file (a FIFO)"

# a checkpoint directory that is a link to an older one, under a newer name
link=$WORK/ck/ckpt-000000000999
ln -s $(basename $old) $link
rc=0
mpi 60 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck --resume $link > ln.out 2> ln.err || rc=$?
[ $rc -eq 2 ] && grep -q "ckpt-000000000999: named for step 999, but its manifest.yaml says step 60" ln.err ||
  fail "--resume of a link to an older checkpoint: exit $rc: $(cat ln.err)"
ok "link: --resume DIR: $(grep -m1 'psrec: error' ln.err | cut -c1-200)"
mpi 120 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck --resume auto > ln-auto.out \
  2> ln-auto.err || fail "link: --resume auto failed: $(tail -n 5 ln-auto.err)"
grep -q "ckpt-000000000999" ln-auto.err && grep -q "resume: checkpoint .*$(basename $new)" ln-auto.out ||
  fail "link: auto did not skip the link for $(basename $new): $(cat ln-auto.err; grep resume ln-auto.out)"
ok "link: --resume auto skipped it: $(grep -m1 'resume: checkpoint' ln-auto.out | cut -c1-120)"
rm -rf $WORK/ck && cp -a $WORK/pristine $WORK/ck

# only `latest` cannot be written (its temporary name is taken by a directory, as a full disk
# would fail it): every checkpoint is committed, the job warns and succeeds, auto finds them
mkdir -p $WORK/ck2/.latest.tmp
mpi 120 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck2 --set checkpoint.every_steps=30 \
  > lt.out 2> lt.err || fail "a job that could not write 'latest' failed: $(tail -n 5 lt.err)"
grep -q "is committed and complete, but the pointer .*latest could not be updated" lt.err ||
  fail "no warning about 'latest': $(cat lt.err)"
! grep -q "checkpoint failed\|checkpoint at step .* failed" lt.err || fail "said a checkpoint failed: $(cat lt.err)"
[ ! -e $WORK/ck2/latest ] || fail "'latest' was written after all"
lt_new=$(ls -d $WORK/ck2/ckpt-* | tail -n 1)
"$PSREC" ckpt verify $lt_new > lt.verify || fail "the checkpoint without 'latest' does not verify"
ok "latest unwritable: $(grep -m1 'could not be updated' lt.err | cut -c1-200)"
rmdir $WORK/ck2/.latest.tmp
mpi 120 2 -- train -c job.yaml --set checkpoint.dir=$WORK/ck2 --resume auto > lt-auto.out \
  2> lt-auto.err || fail "--resume auto without 'latest' failed: $(tail -n 5 lt-auto.err)"
grep -q "resume: checkpoint .*$(basename $lt_new)" lt-auto.out ||
  fail "--resume auto without 'latest' did not pick $(basename $lt_new): $(grep resume lt-auto.out)"
ok "latest unwritable: --resume auto found $(basename $lt_new)"

# the audit's deadlock: two workers, worker 0's state from the older checkpoint (size and CRC
# rewritten), resumed with and without checkpoints: refused before training (exit 2, no hang)
WORKERS=2 STALENESS=1 ROWS=20000 EPOCHS=1 BATCH=256 base_cfg job2.yaml
mpi 120 3 -- train -c job2.yaml --set checkpoint.dir=$WORK/ck3 --set checkpoint.every_steps=15 \
  > w2.out 2> w2.err || fail "2-worker training failed: $(tail -n 20 w2.err)"
new=$(ls -d $WORK/ck3/ckpt-* | tail -n 1)
w2old=$(ls -d $WORK/ck3/ckpt-* | tail -n 2 | head -n 1)
[ "$new" != "$w2old" ] || fail "expected two checkpoints in $WORK/ck3: $(ls $WORK/ck3)"
cp $w2old/worker-00000.state $new/worker-00000.state
fix_entry worker-00000.state
for every in 0 15; do
  rc=0
  mpi 60 3 -- train -c job2.yaml --set checkpoint.dir=$WORK/ck3 --set checkpoint.every_steps=$every \
    --resume $new > w2r.out 2> w2r.err || rc=$?
  [ $rc -eq 2 ] && grep -q "worker-00000.state: header says step" w2r.err ||
    fail "2 workers, stale worker 0 state, every_steps=$every: exit $rc (124: hung): $(tail -n 5 w2r.err)"
  ok "2 workers, stale worker 0 state, every_steps=$every: exit 2: $(grep -m1 'psrec: error' w2r.err | cut -c1-160)"
done

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
