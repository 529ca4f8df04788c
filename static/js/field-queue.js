// The field capture queue: every capture is saved on the phone (IndexedDB) before anything is sent, with a
// client-generated idempotency key and the device time, and it is deleted only after the server answered
// "received" for it. Sending happens by itself when the network returns (the `online` event) and on a timer with
// exponential back-off; each item shows its state: en el teléfono / enviando / recibido con folio / rechazado.
// A server that sheds load (429/503 with Retry-After) is obeyed: the whole queue waits that long, with jitter.
//
// CSRF: the token in the page may be from a session that ended (the page can come from the service worker's
// cache), so before every sync the queue asks the session probe for the current token and account. Captures
// belong to the account that was signed in when they were made; only that account's session sends them.
//
// Photos are resized on the phone (long side at most 2000 px) before they are saved: less to store, less to send.
// The resizing is photo-shrink.js's, the same every photo form of the app uses.

import { shrink } from "./photo-shrink.js";
import { openDB } from "../vendor/idb/index.js";

// Phones hold queued captures under these names: a code update must keep them (and the version) as they are, or
// captures made offline before the update would be stranded.
const DB_NAME = "registro-campo";
const DB_VERSION = 1;
const ITEMS = "capturas";
const RECEIPTS = "recibos";
const BATCH_ITEMS = 3;
const BATCH_BYTES = 4_000_000; // about three captures: a few minutes on a weak rural uplink
const SESSION_TIMEOUT = 20_000;
const BATCH_TIMEOUT = 5 * 60_000; // a dead connection must not block the queue until the phone's own TCP timeout
const FIRST_DELAY = 5_000;
const MAX_DELAY = 5 * 60_000;
const KEPT_RECEIPTS = 50;
const MAX_RETRY_AFTER = 10 * 60_000; // a server asking for a longer pause is not believed beyond ten minutes
const RETRY_JITTER = 0.25; // up to a quarter more, so phones told the same pause do not all come back at once
const FIXABLE = new Set(["unreadable", "invalid_identifier"]);

const form = document.querySelector("form[data-field-queue]");
const panel = document.getElementById("cola");
const texts = panel ? panel.dataset : {};
const endpoints = form ? form.dataset : {};
const pageAccount = Number(document.querySelector('meta[name="registro-cuenta"]')?.content || 0);
const sending = new Set();
let db = null;
let syncing = false;
let delay = FIRST_DELAY;
let timer = null;
let resumeAt = 0; // not before this time (ms): the server answered 429/503 with Retry-After

// ---------------------------------------------------------------- IndexedDB (through idb, vendored)

function openDatabase() {
  return openDB(DB_NAME, DB_VERSION, {
    upgrade(database, oldVersion) {
      if (oldVersion < 1) {
        database.createObjectStore(ITEMS, { keyPath: "key" });
        database.createObjectStore(RECEIPTS, { keyPath: "key" });
      }
    },
  });
}

const allItems = () => db.getAll(ITEMS);
const allReceipts = () => db.getAll(RECEIPTS);
const saveItem = (item) => db.put(ITEMS, item);
const dropItem = (key) => db.delete(ITEMS, key);

async function acknowledge(item, answer) {
  // One transaction: the capture leaves the queue exactly when its receipt is written.
  const transaction = db.transaction([ITEMS, RECEIPTS], "readwrite");
  await Promise.all([
    transaction.objectStore(ITEMS).delete(item.key),
    transaction.objectStore(RECEIPTS).put({
      key: item.key, account: item.account, folio: answer.folio, manual: Boolean(answer.manual_capture),
      captured_at: item.captured_at, received_at: new Date().toISOString(),
    }),
    transaction.done,
  ]);
}

async function pruneReceipts() {
  const receipts = (await allReceipts()).sort((a, b) => a.received_at.localeCompare(b.received_at));
  const transaction = db.transaction(RECEIPTS, "readwrite");
  const old = receipts.slice(0, Math.max(0, receipts.length - KEPT_RECEIPTS));
  await Promise.all([...old.map((r) => transaction.store.delete(r.key)), transaction.done]);
}

// ---------------------------------------------------------------- photos

function dataUrlBlob(url) {
  const [head, body] = url.split(",", 2);
  const bytes = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: head.slice(5).split(";")[0] });
}

async function signatureBlob() {
  const file = form.elements.firma?.files?.[0];
  if (file) return shrink(file); // the pad's small PNG goes as it is; a photo of a paper signature is shrunk
  const url = form.elements.firma_datos?.value || "";
  return url.startsWith("data:image/") ? dataUrlBlob(url) : null;
}

// ---------------------------------------------------------------- capturing

function field(name) {
  return (form.elements[name]?.value || "").trim();
}

async function newItem() {
  const photo = (name) => shrink(form.elements[name].files[0]);
  const alternative = form.elements.alternativa?.checked;
  return {
    key: crypto.randomUUID(), account: pageAccount, aspirant_id: Number(field("aspirante")),
    captured_at: new Date().toISOString(), created: Date.now(),
    signature_method: alternative ? "accessible_alternative" : "drawn",
    identifiers: { cic: field("cic"), clave_elector: field("clave_elector"), ocr: field("ocr") },
    images: {
      back: await photo("reverso"), front: await photo("frente"), live_photo: await photo("foto_viva"),
      signature: alternative ? null : await signatureBlob(),
    },
    state: "pending", attempts: 0, next_attempt: 0, code: "", message: "",
  };
}

function signatureMissing() {
  if (form.elements.alternativa?.checked) return false;
  return !form.elements.firma?.files?.length && !form.elements.firma_datos?.value;
}

async function onSubmit(event) {
  event.preventDefault();
  if (!form.reportValidity()) return;
  if (signatureMissing()) {
    announce(document.getElementById("firma-hint")?.textContent || "");
    return;
  }
  try {
    await saveItem(await newItem());
  } catch {
    announce(texts.storageError);
    return;
  }
  form.reset(); // also clears the signature pad (signature.js listens for the reset)
  showStatement();
  document.getElementById("lectura")?.setAttribute("hidden", "");
  announce(texts.saved);
  await render();
  window.scrollTo({ top: 0 });
  sync();
}

// ---------------------------------------------------------------- sending

async function fetchWithin(url, options, milliseconds) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), milliseconds);
  try {
    return await fetch(url, { ...options, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

async function session() {
  const response = await fetchWithin(endpoints.sessionUrl, { credentials: "same-origin", cache: "no-store",
                                                            headers: { Accept: "application/json" } },
                                     SESSION_TIMEOUT);
  if (response.status === 401 || response.status === 403) return null;
  if (!response.ok) {
    pauseFor(response);
    throw new Error(`session ${response.status}`);
  }
  return response.json();
}

function nextBatch(items) {
  const batch = [];
  let bytes = 0;
  for (const item of items) {
    const size = Object.values(item.images).reduce((sum, blob) => sum + (blob ? blob.size : 0), 0);
    if (batch.length && (batch.length >= BATCH_ITEMS || bytes + size > BATCH_BYTES)) break;
    batch.push(item);
    bytes += size;
  }
  return batch;
}

function body(batch) {
  const data = new FormData();
  const items = batch.map((item) => {
    const images = {};
    for (const [part, blob] of Object.entries(item.images)) {
      if (!blob) continue;
      images[part] = `${item.key}.${part}`;
      data.append(images[part], blob, `${part}.${blob.type === "image/png" ? "png" : "jpg"}`);
    }
    return { key: item.key, aspirant_id: item.aspirant_id, captured_at: item.captured_at,
             signature_method: item.signature_method, identifiers: item.identifiers, images };
  });
  data.append("lote", JSON.stringify({ items }));
  return data;
}

function backOff(attempts) {
  return Math.min(FIRST_DELAY * 2 ** attempts, MAX_DELAY);
}

// Retry-After in seconds or as an HTTP date; null without one. The pause is at least what the server asked,
// at most MAX_RETRY_AFTER, plus jitter.
function retryAfter(response, now = Date.now(), random = Math.random) {
  if (response.status !== 429 && response.status !== 503) return null;
  const header = (response.headers.get("Retry-After") || "").trim();
  let wait = /^\d+$/.test(header) ? Number(header) * 1000 : Date.parse(header) - now;
  if (!header || !Number.isFinite(wait)) return null;
  wait = Math.min(Math.max(wait, 1000), MAX_RETRY_AFTER);
  return wait + Math.round(random() * wait * RETRY_JITTER);
}

function pauseFor(response) {
  // The whole queue pauses and stays as it was: no attempt is counted against any capture.
  const wait = retryAfter(response);
  if (wait !== null) resumeAt = Math.max(resumeAt, Date.now() + wait);
}

async function apply(batch, answers) {
  const byKey = new Map(answers.map((answer) => [answer.key, answer]));
  for (const item of batch) {
    const answer = byKey.get(item.key);
    if (answer && answer.status === "received") {
      await acknowledge(item, answer);
    } else if (answer && (answer.status === "refused" || !answer.retryable)) {
      await saveItem({ ...item, state: "refused", code: answer.code, message: answer.message || answer.code });
    } else {
      const attempts = item.attempts + 1;
      await saveItem({ ...item, attempts, next_attempt: Date.now() + backOff(attempts), message: answer?.message || "" });
    }
  }
}

async function send(batch, token) {
  batch.forEach((item) => sending.add(item.key));
  await render();
  try {
    const response = await fetchWithin(endpoints.batchUrl, {
      method: "POST", body: body(batch), credentials: "same-origin",
      headers: { "X-CSRF-Token": token, Accept: "application/json" },
    }, BATCH_TIMEOUT);
    if (!response.ok) {
      pauseFor(response);
      return response.status;
    }
    await apply(batch, (await response.json()).items || []);
    return 200;
  } finally {
    batch.forEach((item) => sending.delete(item.key));
  }
}

async function sync() {
  if (!db || syncing || !endpoints.batchUrl) return;
  if (!navigator.onLine || Date.now() < resumeAt) return schedule();
  syncing = true;
  try {
    const current = await session();
    if (!current) {
      announce(texts.signedOut);
      return;
    }
    let status = 200;
    while (status === 200) {
      const due = (await allItems()).filter((item) => item.state === "pending" && item.account === current.account_id
                                          && item.next_attempt <= Date.now()).sort((a, b) => a.created - b.created);
      if (!due.length) break;
      status = await send(nextBatch(due), current.csrf_token);
    }
    if (status !== 200) throw new Error(`batch ${status}`);
    delay = FIRST_DELAY;
    await pruneReceipts();
  } catch {
    // The server said how long to wait (Retry-After): that pause replaces the back-off, which is for silence.
    // No network, or the server is down: try again later, less often.
    delay = resumeAt > Date.now() ? FIRST_DELAY : Math.min(delay * 2, MAX_DELAY);
  } finally {
    syncing = false;
    await render();
    schedule();
  }
}

async function schedule() {
  clearTimeout(timer);
  const pending = (await allItems()).filter((item) => item.state === "pending");
  if (!pending.length) return;
  const soonest = Math.min(...pending.map((item) => item.next_attempt));
  timer = setTimeout(sync, Math.max(delay, soonest - Date.now(), resumeAt - Date.now(), 1_000));
}

// ---------------------------------------------------------------- showing the queue

function announce(message) {
  const notice = document.getElementById("cola-aviso");
  if (notice && message) notice.textContent = message;
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

// The page's language (es-MX or en), always on a 24-hour clock, as the server shows times (dd/mm/aaaa hh:mm):
// "00:07", never "12:07 a.m.". hourCycle h23 rather than hour12: false, which some engines render as "24:07".
const TIME_FORMAT = new Intl.DateTimeFormat(document.documentElement.lang || "es-MX", {
  day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

function when(iso) {
  return (texts.capturedAt || "%s").replace("%s", TIME_FORMAT.format(new Date(iso)));
}

function stateText(item) {
  if (sending.has(item.key)) return texts.stateSending;
  if (item.state === "refused") return (texts.stateRefused || "%s").replace("%s", item.message);
  return item.account === pageAccount || !pageAccount ? texts.statePending : texts.otherAccount;
}

function fixForm(item) {
  // The same three fields as the form's fallback, with the same labels, one set per refused capture.
  const box = element("div", { class: "queue-fix" });
  box.append(element("p", { class: "hint" }, texts.fix));
  for (const name of ["cic", "clave_elector", "ocr"]) {
    const id = `${name}-${item.key}`;
    const label = element("label", { for: id }, form?.querySelector(`label[for="${name}"]`)?.textContent || name);
    const input = element("input", { type: "text", id, value: item.identifiers[name] || "", autocomplete: "off",
                                     spellcheck: "false", "data-fix": name });
    box.append(label, input);
  }
  return box;
}

async function retry(item, row) {
  const identifiers = { ...item.identifiers };
  row.querySelectorAll("[data-fix]").forEach((input) => { identifiers[input.dataset.fix] = input.value.trim(); });
  await saveItem({ ...item, identifiers, state: "pending", attempts: 0, next_attempt: 0, code: "", message: "" });
  delay = FIRST_DELAY;
  await render();
  sync();
}

async function discard(item) {
  if (!window.confirm(texts.discardConfirm)) return;
  await dropItem(item.key);
  await render();
}

function itemRow(item) {
  const state = sending.has(item.key) ? "sending" : item.state;
  const row = element("li", { class: `queue-item queue-${state}`, "data-key": item.key, "data-state": state });
  row.append(element("span", { class: "queue-when" }, when(item.captured_at)), element("strong", {}, stateText(item)));
  if (item.state === "refused") {
    if (FIXABLE.has(item.code)) row.append(fixForm(item));
    const again = element("button", { type: "button" }, texts.retry);
    again.addEventListener("click", () => retry(item, row));
    const drop = element("button", { type: "button", class: "button-secondary" }, texts.discard);
    drop.addEventListener("click", () => discard(item));
    row.append(again, drop);
  }
  return row;
}

function receiptRow(receipt) {
  const row = element("li", { class: "queue-item queue-received", "data-key": receipt.key, "data-state": "received",
                              "data-folio": receipt.folio });
  row.append(element("span", { class: "queue-when" }, when(receipt.captured_at)),
             element("strong", {}, (texts.stateReceived || "%s").replace("%s", receipt.folio)));
  return row;
}

async function render() {
  const list = document.getElementById("cola-lista");
  if (!list || !db) return;
  const items = (await allItems()).sort((a, b) => b.created - a.created);
  const receipts = (await allReceipts()).filter((r) => !pageAccount || r.account === pageAccount)
    .sort((a, b) => b.received_at.localeCompare(a.received_at)).slice(0, 10);
  list.replaceChildren(...items.map(itemRow), ...receipts.map(receiptRow));
  if (!items.length && !receipts.length) list.append(element("li", {}, texts.empty));
}

function showConnection() {
  const status = document.getElementById("conexion");
  if (!status) return;
  status.hidden = false;
  status.textContent = navigator.onLine ? status.dataset.online : status.dataset.offline;
  status.classList.toggle("is-offline", !navigator.onLine);
}

// ---------------------------------------------------------------- reading the back while online

async function readBack() {
  const status = document.getElementById("lectura");
  const file = form.elements.reverso?.files?.[0];
  if (!status || !file || !endpoints.readUrl) return;
  status.hidden = false;
  if (!navigator.onLine) {
    status.textContent = status.dataset.readOffline;
    return;
  }
  status.textContent = status.dataset.reading;
  try {
    const current = await session();
    const data = new FormData();
    data.append("reverso", await shrink(file), "reverso.jpg");
    const response = await fetch(endpoints.readUrl, { method: "POST", body: data, credentials: "same-origin",
                                                      headers: { "X-CSRF-Token": current?.csrf_token || "" } });
    const reading = await response.json();
    if (reading.ok) {
      status.textContent = status.dataset.readOk.replace("%s", reading.cic);
    } else {
      status.textContent = `${status.dataset.readFailed} ${reading.advice || ""}`.trim();
      document.getElementById("escribir-datos")?.setAttribute("open", "");
    }
  } catch {
    status.textContent = status.dataset.readOffline;
  }
}

// ---------------------------------------------------------------- the statement of the chosen candidacy

function showStatement() {
  // Without JavaScript every candidacy's statement shows; with it, only the chosen one's (all until one is).
  const chosen = form?.elements.aspirante?.value || "";
  document.querySelectorAll("[data-statement-for]").forEach((statement) => {
    statement.hidden = Boolean(chosen) && statement.dataset.statementFor !== chosen;
  });
}

// ---------------------------------------------------------------- start

async function start() {
  form?.elements.aspirante?.addEventListener("change", showStatement);
  showStatement();
  const worker = document.querySelector('meta[name="registro-sw"]');
  if ("serviceWorker" in navigator && worker) {
    navigator.serviceWorker.register(worker.content, { scope: worker.dataset.scope }).catch(() => undefined);
  }
  if (!("indexedDB" in window) || !window.crypto?.randomUUID) return; // the plain form still works online
  try {
    db = await openDatabase();
  } catch {
    return;
  }
  navigator.storage?.persist?.().catch(() => undefined); // ask the browser not to evict the queue
  if (form) form.addEventListener("submit", onSubmit);
  form?.elements.reverso?.addEventListener("change", readBack);
  if (panel) panel.hidden = false;
  document.getElementById("cola-enviar")?.addEventListener("click", () => { delay = FIRST_DELAY; sync(); });
  window.addEventListener("online", () => { showConnection(); delay = FIRST_DELAY; sync(); });
  window.addEventListener("offline", showConnection);
  showConnection();
  await render();
  sync();
}

start();
