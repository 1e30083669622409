// web/test/kat.mjs - the JS implementation (web/chat.js) against the C
// known-answer conversation (tests/fixtures/chat/kat.json, from
// tests/unit/test_chat_ratchet.c): same deterministic key stream, so the
// customer's two messages must be byte-identical and the bank's answer must
// decrypt. Any difference in X3DH, KDF chains, header, padding or AEAD fails.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { makeChat } from "../chat.js";

const require = createRequire(import.meta.url);
const S = require("libsodium-wrappers-sumo");
await S.ready;
const kat = JSON.parse(readFileSync(new URL("../../tests/fixtures/chat/kat.json", import.meta.url)));
const chat = makeChat(S);
const seed = new Uint8Array(32).map((_, i) => 0xa0 + i);
let failed = 0;
const check = (what, got, want) => {
  if (got === want) console.log("ok  ", what);
  else { failed++; console.log("FAIL", what, "\n  got ", got, "\n  want", want); }
};
chat.setTestSeed(seed);                       // draws 0..3: customer IK, EK, ratchet key, header nonce
const bundle = chat.bundleFromJSON(kat.bundle);
const pin = bundle.ik;
chat.verifyBundle(bundle, pin);
const s = chat.initiate(bundle);
const [m1, m2, m3] = kat.messages;
check("customer prekey message (X3DH + first chain)", S.to_hex(chat.encrypt(s, m1.plaintext)), m1.wire);
chat.setTestSeed(seed, 6);                     // draws 4, 5 were the bank's (C test, same stream)
check("bank answer decrypts", chat.decrypt(s, S.from_hex(m2.wire)), m2.plaintext);
check("second customer message (after a DH ratchet step)", S.to_hex(chat.encrypt(s, m3.plaintext)), m3.wire);
let refused = false;
try { chat.decrypt(s, S.from_hex(m2.wire)); } catch { refused = true; }
check("replayed answer refused", refused, true);
const evil = { ...bundle, spk: bundle.spk.slice() }; evil.spk[0] ^= 1;
refused = false; try { chat.verifyBundle(evil, pin); } catch { refused = true; }
check("swapped prekey refused", refused, true);
process.exit(failed ? 1 : 0);
