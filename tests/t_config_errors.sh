# t_config_errors: a bad config or command line stops every rank with one message and exit
# status 2 under mpirun, quickly (no hang); too few ranks for the servers is an error too.
source "$(dirname "$0")/lib.sh"
echo "0	1	2	3	4	5	6	7	8	9	10	11	12	a	b	c	d	e	f	g	h	i	j	k	l	m	n	o	p	q	r	s	t	u	v	w	x	y	z" > tiny.tsv

expect_fail() { # name, np, expected message fragment, psrec args...
  local name=$1 np=$2 want=$3
  shift 3
  set +e
  mpi 60 "$np" -- "$@" > out.txt 2> err.txt
  local rc=$?
  set -e
  [ $rc -ne 0 ] || fail "$name: exit 0"
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$name: the job hung (timeout)"
  grep -qF -- "$want" err.txt || fail "$name: stderr lacks '$want': $(cat err.txt)"
  [ "$(grep -c 'psrec: error' err.txt)" -eq 1 ] || fail "$name: expected exactly one error line: $(cat err.txt)"
  ok "$name (exit $rc)"
}

printf 'train:\n  epochs: -3\ndata:\n  train: [tiny.tsv]\n' > bad_range.yaml
expect_fail "out of range" 2 "bad_range.yaml:2: key 'train.epochs': found '-3'" train -c bad_range.yaml
printf 'train:\n  epoch: 3\n' > unknown.yaml
expect_fail "unknown key" 3 "unknown.yaml:2: unknown key 'train.epoch'" train -c unknown.yaml
printf 'model:\n  type: svm\ndata:\n  train: [tiny.tsv]\n' > enum.yaml
expect_fail "bad enum" 2 "key 'model.type': found 'svm'" train -c enum.yaml
printf 'data:\n  train: [tiny.tsv]\n' > ok.yaml
expect_fail "bad --set" 2 "--set train.batch_size=0" train -c ok.yaml --set train.batch_size=0
expect_fail "missing file" 2 "nope.yaml" train -c nope.yaml
expect_fail "no -c" 2 "no config file" train
expect_fail "unknown flag" 2 "unknown flag '--bogus'" train -c ok.yaml --bogus
printf 'cluster:\n  servers: 2\ndata:\n  train: [tiny.tsv]\n' > servers.yaml
expect_fail "too few ranks" 2 "key 'cluster.servers' is 2 but mpirun started 2 ranks" train -c servers.yaml
expect_fail "missing data file" 2 "data.train" train -c ok.yaml --set data.train=missing.tsv
done_checks
