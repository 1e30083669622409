// web/app.js - the messenger page: a relay account in memory, the session
// with the bank (web/chat.js), opt-in linking, send/answer, unlink. All
// secrets stay in this page's memory; the relay gets opaque envelopes only.
import sodium from "/sodium.js";
import { makeChat } from "/chat.js";

const $ = (id) => document.getElementById(id);
let chat, account = null, session = null, cursor = 0, nextId = 1, busy = false;

function show(text, cls) {
  const d = document.createElement("div");
  d.className = "msg " + cls;
  d.textContent = text;
  $("log").appendChild(d);
}
function status(text) { $("status").firstElementChild.textContent = text; }

async function api(method, path, body) {
  const h = { "Content-Type": "application/json" };
  if (account) h.Authorization = "Bearer " + account.token;
  const r = await fetch(path, { method, headers: h, body: body ? JSON.stringify(body) : undefined, cache: "no-store" });
  const o = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`relay answered ${r.status}: ${o.error || "?"}`);
  return o;
}

function pinnedKey() {
  const t = $("bankkey").value.trim().replace(/^blpsi-pub:/, "");
  if (!/^[0-9a-fA-F]{64}$/.test(t)) throw new Error("enter the bank's key (blpsi-pub: and 64 hex digits) first");
  return sodium.from_hex(t);
}

async function ensureSession() {
  if (session) return;
  const pin = pinnedKey();
  const bundle = chat.bundleFromJSON(await api("GET", `/v1/banks/${encodeURIComponent($("bank").value)}/bundle`));
  chat.verifyBundle(bundle, pin);
  session = chat.initiate(bundle);
}

// Send one request and wait (10 s) for the answer with the same id.
async function request(obj) {
  await ensureSession();
  const bank = $("bank").value;
  obj.id = nextId++;
  const env = chat.encrypt(session, JSON.stringify(obj));
  await api("POST", "/v1/send", { to: bank, body: chat.b64(env) });
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const wait = Math.max(1, Math.min(5, Math.floor((deadline - Date.now()) / 1000)));
    const o = await api("GET", `/v1/messages?after=${cursor}&wait=${wait}`);
    let answer = null;
    for (const m of o.messages) {
      cursor = m.seq;
      if (m.from !== bank) continue;
      try {
        const a = JSON.parse(chat.decrypt(session, chat.unb64(m.body)));
        if (a.re === obj.id) answer = a;
      } catch (e) { console.warn("ignored an envelope:", e.message); }
    }
    if (answer) return answer;
  }
  throw new Error("no answer from the bank within 10 s");
}

async function act(label, obj, after) {
  if (busy) return;
  busy = true;
  status(label + "...");
  try {
    if (obj.t === "msg") show(obj.text, "me");
    const a = await request(obj);
    show(a.text, a.error ? "bank error" : "bank");
    if (a.error === "expired" || obj.t === "unlink") session = null; // keys deleted on both sides
    if (after) after(a);
    status(a.linked ? "linked" : "not linked");
  } catch (e) {
    show(e.message, "error");
    status("error");
  } finally {
    busy = false;
    $("log").dataset.count = String($("log").children.length);
  }
}

$("link").onclick = () => act("linking", { t: "link", customer: $("customer").value, code: $("code").value },
  () => { $("code").value = ""; });
$("unlink").onclick = () => act("unlinking", { t: "unlink" });
$("send").onclick = () => { const text = $("message").value; if (text) { $("message").value = ""; act("sending", { t: "msg", text }); } };
$("message").addEventListener("keydown", (e) => { if (e.key === "Enter") $("send").click(); });

await sodium.ready;
chat = makeChat(sodium);
account = await api("POST", "/v1/accounts", {});
$("log").dataset.count = "0";
status("ready");
document.body.dataset.ready = "1";
