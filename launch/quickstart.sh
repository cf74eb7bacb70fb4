#!/usr/bin/env bash
# quickstart.sh: install what is missing, build, generate the default synthetic data set and
# train on it with mpirun (1 parameter server + 1 worker, cluster-configs/local.yaml).
# Extra arguments go to `psrec train`, e.g. --set model.type=lr
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=setup.sh
source "$here/setup.sh"

data=$PSREC_ROOT/data/synthetic
if [ ! -f "$data/optimum.txt" ]; then
  echo "quickstart: generating $data (planted model, seed 1)"
  "$PSREC_BIN" gen --rows 2000000 --test-rows 200000 --seed 1 --out "$data"
fi
echo "quickstart: best possible on this data: $(cat "$data/optimum.txt")"
cd "$PSREC_ROOT"
exec mpirun --oversubscribe -np 2 "$PSREC_BIN" train -c cluster-configs/local.yaml "$@"
