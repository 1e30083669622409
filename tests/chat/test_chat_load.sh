#!/usr/bin/env bash
# tests/chat/test_chat_load.sh - bounded load: 30 concurrent customers, 3
# round trips each, relay-only and end to end through the bank bot; every
# round trip must complete (no timing thresholds: figures are printed only).
. "$BL_SRC/tests/cli/lib.sh"
bash "$BL_SRC/bench/chat_load.sh" "$BL_BUILD" 30 3 --json >"$T/load.json" 2>"$T/load.err"
assert_eq $? 0 "load run"
cat "$T/load.json"
assert_eq "$(grep -c '"failed":0' "$T/load.json")" 2 "no failed round trip"
assert_eq "$(grep -c '"round_trips":90' "$T/load.json")" 2 "all 90 round trips, both modes"
finish
