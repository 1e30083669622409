// web/chat.js - the blindlink chat protocol in the browser (and Node, for the
// known-answer test): X3DH as the initiator and the Double Ratchet with
// header encryption, the same
// construction and bytes as lib/chat/ratchet.c and lib/chat/wire.c
// (docs/chat.md), on libsodium.js (libsodium-wrappers-sumo). Written here for
// the same reason as the C side: libolm / libsignal-protocol-javascript are
// deprecated or archived upstream. The libsodium instance is passed in so the
// module runs unchanged in the page (ES module build) and in Node (CommonJS).

export const MAX_SKIP = 1000;
export const MAX_SKIPPED_KEPT = 2000;
export const MAX_PLAINTEXT = 16384;
const PAD = 128;
const TAG = 16;
const te = new TextEncoder();
const INFO_X3DH = te.encode("blindlink-chat-x3dh-v1");
const INFO_RK = te.encode("blindlink-chat-ratchet-v1");
const INFO_MK = te.encode("blindlink-chat-message-v1");
const INFO_HK = te.encode("blindlink-chat-header-keys-v1");
const SPK_LABEL = te.encode("blindlink-chat-spk");

function cat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
function u32(v) { return new Uint8Array([(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]); }
function get32(b, o) { return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3]; }
function eq(a, b) { if (a.length !== b.length) return false; let d = 0; for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]; return d === 0; }

export function makeChat(S) {
  let testSeed = null, testCtr = 0;
  // Randomness: libsodium, or the deterministic ChaCha20 stream the C unit
  // test uses (8-byte little-endian counter as nonce) for known answers.
  function random(n) {
    if (!testSeed) return S.randombytes_buf(n);
    const nonce = new Uint8Array(8);
    let c = testCtr++;
    for (let i = 0; i < 8; i++) { nonce[i] = c & 255; c = Math.floor(c / 256); }
    return S.crypto_stream_chacha20(n, testSeed, nonce);
  }
  function genDH() { const sk = random(32); return { sk, pk: S.crypto_scalarmult_base(sk) }; }
  const hmac = (key, msg) => S.crypto_auth_hmacsha256(msg, key); // every key here is 32 bytes
  function hkdf(salt, ikm, info, len) { // RFC 5869 with HMAC-SHA256
    const prk = hmac(salt || new Uint8Array(32), ikm);
    let t = new Uint8Array(0), out = new Uint8Array(0);
    for (let i = 1; out.length < len; i++) {
      t = hmac(prk, cat(t, info, new Uint8Array([i])));
      out = cat(out, t);
    }
    return out.slice(0, len);
  }
  function kdfRK(rk, dh) { const o = hkdf(rk, dh, INFO_RK, 96); return [o.slice(0, 32), o.slice(32, 64), o.slice(64)]; }
  function kdfCK(ck) { return [hmac(ck, new Uint8Array([2])), hmac(ck, new Uint8Array([1]))]; } // [next ck, mk]
  function mkExpand(mk) { const o = hkdf(null, mk, INFO_MK, 56); return [o.slice(0, 32), o.slice(32)]; }
  const b64 = (b) => S.to_base64(b, S.base64_variants.URLSAFE_NO_PADDING);
  const unb64 = (s) => S.from_base64(s, S.base64_variants.URLSAFE_NO_PADDING);

  function bundleFromJSON(o) {
    return { ik: unb64(o.ik), spk: unb64(o.spk), spk_id: o.spk_id >>> 0, sig: unb64(o.sig) };
  }
  // The pinned key check and the prekey signature: a relay that swaps keys is refused.
  function verifyBundle(b, pinned) {
    if (pinned && !eq(pinned, b.ik))
      throw new Error("the bank's identity key from the relay differs from the pinned key: refusing");
    if (!S.crypto_sign_verify_detached(b.sig, cat(SPK_LABEL, u32(b.spk_id), b.spk), b.ik))
      throw new Error("the bank's signed prekey does not verify under its identity key: refusing");
  }

  function initiate(b) {
    verifyBundle(b, null);
    const ikbX = S.crypto_sign_ed25519_pk_to_curve25519(b.ik);
    const ik = genDH(), ek = genDH();
    const dh1 = S.crypto_scalarmult(ik.sk, b.spk), dh2 = S.crypto_scalarmult(ek.sk, ikbX);
    const dh3 = S.crypto_scalarmult(ek.sk, b.spk);
    const sk = hkdf(null, cat(new Uint8Array(32).fill(255), dh1, dh2, dh3), INFO_X3DH, 32);
    const hk = hkdf(null, sk, INFO_HK, 64); // shared HKA || shared NHKB
    const s = { ad: cat(ik.pk, b.ik), ikPk: ik.pk, ekPk: ek.pk, spkId: b.spk_id, pending: true,
      dhs: genDH(), dhr: b.spk, ckr: null, ns: 0, nr: 0, pn: 0, skipped: new Map(),
      hks: hk.slice(0, 32), hkr: null, nhkr: hk.slice(32) };
    [s.rk, s.cks, s.nhks] = kdfRK(sk, S.crypto_scalarmult(s.dhs.sk, s.dhr));
    return s;
  }

  function encrypt(s, text) {
    const pt = te.encode(text);
    if (pt.length > MAX_PLAINTEXT) throw new Error(`message of ${pt.length} bytes exceeds the ${MAX_PLAINTEXT}-byte limit`);
    const head = [new Uint8Array([1, s.pending ? 1 : 2])];
    if (s.pending) head.push(s.ikPk, s.ekPk, u32(s.spkId));
    const prefix = cat(...head);
    const hn = random(24); // a header key serves a whole chain: random nonce
    const eh = S.crypto_aead_xchacha20poly1305_ietf_encrypt(cat(s.dhs.pk, u32(s.pn), u32(s.ns)), prefix, null, hn, s.hks);
    const header = cat(prefix, hn, eh);
    let mk;
    [s.cks, mk] = kdfCK(s.cks);
    s.ns++;
    const [key, nonce] = mkExpand(mk);
    const ct = S.crypto_aead_xchacha20poly1305_ietf_encrypt(S.pad(pt, PAD), cat(s.ad, header), null, nonce, key);
    return cat(header, ct);
  }

  function parse(m) {
    if (m.length < 2 || m[0] !== 1 || (m[1] !== 1 && m[1] !== 2)) throw new Error("malformed chat message");
    let o = 2;
    const r = { type: m[1] };
    if (r.type === 1) { r.ik = m.slice(o, o + 32); r.ek = m.slice(o + 32, o + 64); o += 68; }
    if (m.length < o + 80) throw new Error("truncated chat message");
    r.prefix = m.slice(0, o); r.eh = m.slice(o, o + 80);
    r.header = m.slice(0, o + 80); r.ct = m.slice(o + 80);
    if (r.ct.length < TAG + PAD || (r.ct.length - TAG) % PAD) throw new Error("malformed ciphertext");
    return r;
  }

  function open(s, mk, m) {
    const [key, nonce] = mkExpand(mk);
    const pt = S.crypto_aead_xchacha20poly1305_ietf_decrypt(null, m.ct, cat(s.ad, m.header), nonce, key);
    return new TextDecoder().decode(S.unpad(pt, PAD));
  }
  function openHeader(hk, m) { // HDECRYPT: {dh, pn, n} or null
    if (!hk) return null;
    try {
      const h = S.crypto_aead_xchacha20poly1305_ietf_decrypt(null, m.eh.slice(24), m.prefix, m.eh.slice(0, 24), hk);
      return { dh: h.slice(0, 32), pn: get32(h, 32), n: get32(h, 36) };
    } catch { return null; }
  }
  function skip(s, until) {
    if (!s.ckr) return;
    if (until > s.nr && until - s.nr > MAX_SKIP) throw new Error("message would skip too many keys");
    while (s.nr < until) {
      let mk;
      [s.ckr, mk] = kdfCK(s.ckr);
      if (s.skipped.size >= MAX_SKIPPED_KEPT) s.skipped.delete(s.skipped.keys().next().value);
      s.skipped.set(b64(s.hkr) + ":" + s.nr, { hk: s.hkr, n: s.nr, mk });
      s.nr++;
    }
  }
  function clone(s) { return { ...s, dhs: { ...s.dhs }, skipped: new Map(s.skipped) }; }

  // RatchetDecrypt on a copy: the session only changes when the message authenticates.
  function decrypt(s0, bytes) {
    const m = parse(bytes);
    if (m.type === 1) throw new Error("prekey message for the customer: refused");
    const s = clone(s0);
    let text = null;
    for (const [id, k] of s.skipped) { // TrySkippedMessageKeysHE
      const h = openHeader(k.hk, m);
      if (h && h.n === k.n) { text = open(s, k.mk, m); s.skipped.delete(id); break; }
    }
    if (text === null) {
      let h = openHeader(s.hkr, m), step = false;
      if (!h) { h = openHeader(s.nhkr, m); step = true; }
      if (!h) throw new Error("message rejected: header does not authenticate");
      if (step) { // DHRatchetHE
        skip(s, h.pn);
        s.pn = s.ns; s.ns = 0; s.nr = 0; s.hks = s.nhks; s.hkr = s.nhkr; s.dhr = h.dh;
        [s.rk, s.ckr, s.nhkr] = kdfRK(s.rk, S.crypto_scalarmult(s.dhs.sk, s.dhr));
        s.dhs = genDH();
        [s.rk, s.cks, s.nhks] = kdfRK(s.rk, S.crypto_scalarmult(s.dhs.sk, s.dhr));
      }
      if (h.n < s.nr) throw new Error("replayed message");
      skip(s, h.n);
      let mk;
      [s.ckr, mk] = kdfCK(s.ckr);
      s.nr++;
      text = open(s, mk, m);
    }
    s.pending = false;
    Object.assign(s0, s);
    return text;
  }

  return {
    initiate, encrypt, decrypt, verifyBundle, bundleFromJSON, b64, unb64, hkdf,
    setTestSeed(seed, counter = 0) { testSeed = seed; testCtr = counter; },
  };
}
