#!/usr/bin/env bash
# tests/chat/test_chat_web.sh - the web client: (1) web/chat.js reproduces the
# C known-answer conversation byte for byte (Node), (2) headless Chromium
# opens the page served by a real relay and holds the same conversation as
# test_chat_flow.sh with the C bank bot (JS<->C). Needs nodejs, npm and
# chromium (scripts/deps.sh) and the npm packages of web/package-lock.json
# (installed here with npm ci when missing). Skips loudly (exit 77) if any
# is unavailable; it never passes without running the browser.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/chat/lib_chat.sh"
skip() { echo "SKIP: $*" >&2; echo "SKIP: $*"; exit 77; }
command -v node >/dev/null || skip "node not installed (Debian nodejs; scripts/deps.sh)"
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || skip "chromium not installed (Debian chromium; scripts/deps.sh)"
W="$BL_SRC/web"
if [ ! -d "$W/node_modules/playwright-core" ] || [ ! -d "$W/node_modules/libsodium-wrappers-sumo" ]; then
  command -v npm >/dev/null || skip "npm not installed (Debian npm; scripts/deps.sh)"
  (cd "$W" && npm ci --no-audit --no-fund >"$T/npm.log" 2>&1) ||
    { cat "$T/npm.log" >&2; skip "npm ci in web/ failed (npm registry unreachable?)"; }
fi
(cd "$W" && node test/kat.mjs) >"$T/kat.out" 2>&1
assert_eq $? 0 "JS known-answer conversation"; cat "$T/kat.out"
start_relay --web "$W" || exit 1
start_bank || exit 1
CODE=$(curl -s -o "$T/index.html" -w '%{http_code}' "$RURL/")
assert_eq "$CODE" 200 "page served"; assert_contains "$T/index.html" "Chat with your bank"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$RURL/sodium.js"); assert_eq "$CODE" 200 "libsodium.js served"
(cd "$W" && CHROMIUM="$CHROMIUM" timeout 120 node test/browser.mjs "$RURL" "$(cat "$T/bank.key.pub")") >"$T/browser.out" 2>&1
assert_eq $? 0 "browser conversation (JS<->C)"; cat "$T/browser.out"
assert_eq "$(grep -c '^ok' "$T/browser.out")" 11 "all browser checks ran"
# the relay saw no plaintext from the browser either
stop_bank; stop_relay
for secret in 4821.37 Velotech C1001 LC-7Q4M-XK2P; do
  grep -raF -- "$secret" "$T/relay" "$T/relay.log" >/dev/null && fail "'$secret' in the relay's data" || pass
done
check_logs
finish
