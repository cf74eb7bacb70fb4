#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite with ctest.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=setup.sh
source "$here/setup.sh"
cd "$PSREC_BUILD"
exec ctest --output-on-failure --timeout 600 "$@"
