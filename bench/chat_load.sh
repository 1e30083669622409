#!/usr/bin/env bash
# bench/chat_load.sh - bounded chat load on loopback: starts a relay and the
# bank bot, then runs bench_chat twice in one script: the relay-only
# baseline (echo stand-in, no crypto) and end to end (X3DH + Double Ratchet,
# the bot decrypting, answering and persisting). Usage:
#   [BANK_WORKERS=N] bench/chat_load.sh [BUILD_DIR] [CUSTOMERS] [MESSAGES_EACH] [--json]
set -euo pipefail
B=${1:-build}; K=${2:-100}; M=${3:-10}
BL="$B/blindlink"; T=$(mktemp -d)
RP=""; BP=""
trap '[ -n "$BP" ] && kill $BP 2>/dev/null; [ -n "$RP" ] && kill $RP 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
"$BL" relay --listen 127.0.0.1:0 --data-dir "$T/relay" --port-file "$T/port" --queue-cap 100000 2>"$T/relay.log" &
RP=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$T/port")"
"$BL" keygen --out "$T/bank.key" >/dev/null 2>&1
"$BL" bank --relay "$URL" --name loadbank --key "$T/bank.key" --state "$T/bank" --workers "${BANK_WORKERS:-4}" \
  --accounts "$(dirname "$0")/../tests/fixtures/chat/accounts.csv" \
  --transactions "$(dirname "$0")/../tests/fixtures/chat/transactions.csv" 2>"$T/bank.log" &
BP=$!
for _ in $(seq 1 100); do grep -qs online "$T/bank.log" && break; sleep 0.05; done
echo "chat load: $K concurrent customers x $M round trips, loopback, $(nproc) cores"
"$B/bench_chat" --relay "$URL" --mode relay --customers "$K" --messages "$M" "${@:4}"
"$B/bench_chat" --relay "$URL" --bank loadbank --bank-key "$T/bank.key.pub" --customers "$K" --messages "$M" "${@:4}"
