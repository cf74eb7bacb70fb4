#!/usr/bin/env bash
# setup.sh: install what psrec needs (Debian/Ubuntu packages) and build it into build/.
# Sourced by quickstart.sh and test.sh; safe to run on its own. Installs with apt-get when
# run as root; otherwise prints the exact command to run and stops.
set -euo pipefail

PSREC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PSREC_BUILD=${PSREC_BUILD:-$PSREC_ROOT/build}
# libjansson-dev: JSON of train.metrics_file; gnuplot-nox: psrec plot; jq: the tests read the
# metrics file with it; procps: pgrep, with which the tests find a rank to stop or kill (a bare
# Debian image lacks it)
PSREC_PACKAGES="build-essential cmake pkg-config openmpi-bin libopenmpi-dev libopenblas-dev zlib1g-dev libyaml-dev libjansson-dev gnuplot-nox jq procps"

psrec_missing_packages() {
  local missing="" p
  for p in $PSREC_PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing="$missing $p"
    fi
  done
  echo "$missing"
}

psrec_install() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup: this script installs with Debian/Ubuntu's apt; on another system install a C11" >&2
    echo "setup: compiler, CMake >= 3.18, pkg-config, Open MPI, OpenBLAS, zlib, libyaml," >&2
    echo "setup: jansson, gnuplot, jq and procps (pgrep)." >&2
    return 0
  fi
  local missing
  missing=$(psrec_missing_packages)
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
  else
    echo "setup: missing packages:$missing" >&2
    echo "setup: run this, then run this script again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
}

psrec_build() {
  cmake -S "$PSREC_ROOT" -B "$PSREC_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$PSREC_BUILD" -j "$(nproc)"
}

# Open MPI refuses to run as root unless told; containers and CI often are root.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# one OpenBLAS thread per rank: ranks are the parallelism
export OPENBLAS_NUM_THREADS=1

psrec_install
psrec_build
PSREC_BIN=$PSREC_BUILD/psrec
