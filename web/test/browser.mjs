// web/test/browser.mjs - the scripted conversation of tests/chat/test_chat_flow.sh,
// run by a person's browser: headless Chromium (Debian package) driven by
// playwright-core opens the relay's web client and talks to the C bank bot.
// Usage: node test/browser.mjs RELAY_URL BANK_KEY_TEXT
import { chromium } from "playwright-core";

const [url, bankKey] = process.argv.slice(2);
const exe = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath: exe, args: ["--no-sandbox", "--disable-gpu"] });
const page = await browser.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text()); });
// a failed load is judged by its URL: only the browser's own favicon probe may 404
page.on("response", (r) => { if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) errors.push(`${r.status()} ${r.url()}`); });
let failed = 0;
const check = (what, ok, detail = "") => {
  if (ok) console.log("ok  ", what); else { failed++; console.log("FAIL", what, detail); }
};

await page.goto(url + "/");
await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
async function last(action) {
  const n = Number(await page.getAttribute("#log", "data-count"));
  await action();
  await page.waitForFunction((k) => Number(document.getElementById("log").dataset.count) > k, n, { timeout: 20000 });
  return page.evaluate(() => { const l = document.getElementById("log").lastElementChild; return { text: l.textContent, cls: l.className }; });
}
const send = (text) => last(async () => { await page.fill("#message", text); await page.click("#send"); });
const link = (id, code) => last(async () => { await page.fill("#customer", id); await page.fill("#code", code); await page.click("#link"); });

// a wrong pinned key: the page refuses the relay's bundle
await page.fill("#bankkey", "blpsi-pub:" + "11".repeat(32));
let r = await send("balance");
check("wrong pinned key refused", r.cls.includes("error") && r.text.includes("differs from the pinned key"), r.text);
await page.fill("#bankkey", bankKey);
r = await send("what is my balance");
check("unlinked: no account answer", r.text.includes("not linked") && !r.text.includes("4821.37"), r.text);
r = await link("C1001", "LC-7Q4M-XK2P");
check("link", r.text.includes("Linked. Hello Alice Example"), r.text);
r = await send("what is my balance");
check("balance", r.text.includes("Your balance is 4821.37 EUR."), r.text);
r = await send("recent transactions");
check("transactions", r.text.includes("2026-11-30 Salary Quintessa GmbH 3100.00 EUR") && r.text.includes("Velotech Cycles"), r.text);
r = await send("please freeze my card");
check("freeze", r.text.includes("Card freeze requested"), r.text);
r = await send("I want to talk to a human agent");
check("agent", r.text.includes("human agent will take over"), r.text);
r = await last(() => page.click("#unlink"));
check("unlink", r.text.includes("Unlinked"), r.text);
r = await send("balance");
check("after unlink", r.text.includes("not linked"), r.text);
r = await link("C1001", "LC-7Q4M-XK2P");
check("one-time code", r.text.includes("already used"), r.text);
check("no page errors", errors.length === 0, errors.join(" | "));
await browser.close();
process.exit(failed ? 1 : 0);
