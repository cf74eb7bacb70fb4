# t_cli: help texts, unknown commands and flags, exit statuses.
source "$(dirname "$0")/lib.sh"

"$PSREC" --help > help.txt; ok "psrec --help exits 0"
for w in train gen; do grep -q "$w" help.txt || fail "psrec --help does not list $w"; done
ok "psrec --help lists every command"
"$PSREC" train --help > th.txt; grep -q -- "--set" th.txt || fail "train --help misses --set"
grep -q -- "-c, --config" th.txt || fail "train --help misses -c"; ok "train --help"
"$PSREC" gen --help > gh.txt
for f in --rows --test-rows --seed --out --gzip; do grep -q -- "$f" gh.txt || fail "gen --help misses $f"; done
ok "gen --help lists every flag"

set +e
"$PSREC" frobnicate 2> err.txt; rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown command exited $rc, expected 2"
grep -q "unknown command 'frobnicate'" err.txt || fail "unknown command message: $(cat err.txt)"
ok "unknown command: exit 2 with a message"
set +e
"$PSREC" gen --rows abc --out x 2> err.txt; rc=$?
set -e
[ $rc -eq 2 ] || fail "gen --rows abc exited $rc"
grep -q -- "--rows" err.txt || fail "gen error does not name --rows: $(cat err.txt)"
ok "gen rejects a bad number"
"$PSREC" --version | grep -q '^psrec [0-9]' || fail "--version"
ok "--version"
done_checks
