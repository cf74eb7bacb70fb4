# t_cli: help texts, unknown commands and flags, exit statuses.
source "$(dirname "$0")/lib.sh"

"$PSREC" --help > help.txt; ok "psrec --help exits 0"
for w in train gen; do grep -q "$w" help.txt || fail "psrec --help does not list $w"; done
ok "psrec --help lists every command"
"$PSREC" train --help > th.txt; grep -q -- "--set" th.txt || fail "train --help misses --set"
grep -q -- "-c, --config" th.txt || fail "train --help misses -c"; ok "train --help"
"$PSREC" gen --help > gh.txt
for f in --rows --test-rows --seed --out --truth --gzip; do grep -q -- "$f" gh.txt || fail "gen --help misses $f"; done
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
set +e
"$PSREC" gen --truth dnn --out x 2> err.txt; rc=$?
set -e
[ $rc -eq 2 ] || fail "gen --truth dnn exited $rc, expected 2"
grep -q -- "--truth: 'dnn' is not a truth model (allowed: fm, deep)" err.txt ||
  fail "gen --truth error does not name the flag, the value and the allowed values: $(cat err.txt)"
[ ! -e x ] || fail "gen --truth dnn created its output directory"
ok "gen rejects an unknown truth"
"$PSREC" gen --truth=deep --rows 50 --test-rows 50 --out deep > deep.txt 2> deep.err ||
  fail "gen --truth=deep failed: $(cat deep.err)"
grep -q '^optimum: auc=0\.[0-9]* logloss=0\.[0-9]*$' deep.txt || fail "gen --truth deep printed: $(cat deep.txt)"
ok "gen --truth deep prints the optimum line"
"$PSREC" --version | grep -q '^psrec [0-9]' || fail "--version"
ok "--version"
done_checks
