// /insights: send a package (its link, or the zip itself) to our Dumpus-compatible routes,
// follow the job live (the /api/ws socket when signed in, else /status every second), then
// download the encrypted result, decrypt and inflate it here (blob.js), keep it in this
// browser (dashb's store.js, IndexedDB) and open the dashboard. Beside the live step it shows
// how long similar jobs took on this server (GET /insights/typical-durations: aggregates only).
//
// The key (UPN) only ever leaves this page as the Authorization bearer of our own routes (and
// in the package link itself, which is what POST /process is for, and in the live socket's
// subscribe packet, which proves the key the same way). The decrypted database never leaves.

import { el, formatDate, formatDuration, formatSize, say, showError } from "../api.js";
import { BlobError, decryptWire, gunzip, looksLikeSqlite } from "./blob.js";
import {
  durations, forgetKey, keepKey, keyFor, LinkError, listKeys, newUpn, recordDuration, upnFromLink,
} from "./keys.js";
import { forgetResult, listResults, saveResult } from "./store.js";

const root = document.getElementById("insights");
const config = JSON.parse(root.dataset.config || "{}");
const $ = (id) => document.getElementById(id);

// errorMessageCode -> what the user reads (docs/insights-api.md lists the codes).
const MESSAGES = {
  INVALID_LINK: "This link was refused: it is not a Discord data package link, or its file is not a package.",
  EXPIRED_LINK: "This link has expired. Download the zip with the button in Discord's email and upload it here instead.",
  INVALID_INPUT: "The request was malformed. Reload the page and try again.",
  PACKAGE_TOO_LARGE: "This package is larger than this server accepts.",
  NOT_A_ZIP: "This file is not a zip. Choose the package.zip file Discord sent you.",
  CORRUPT_ZIP: "This zip is damaged or incomplete (was the download cut short?). Download it again.",
  MALFORMED_PACKAGE: "This zip is not a Discord Data Package (its folders are not the ones Discord writes).",
  MISSING_USER_DATA: "This package has no account data (account/user.json): request a full package from Discord.",
  DOWNLOAD_FAILED: "The server could not download the package from that link. Try again later, or upload the zip.",
  DOWNLOAD_TIMEOUT: "Downloading the package took too long. Try again later, or upload the zip.",
  WORKER_LOST: "The analysis stopped several times without finishing. Try again later.",
  STORAGE_UNAVAILABLE: "The server's storage is unavailable right now. Try again later.",
  UNAUTHORIZED: "This key does not match this package.",
  UNKNOWN_PACKAGE_ID: "This package is not on the server (it was deleted, or never sent).",
  NOT_FOUND: "The result is not ready on the server.",
  RATE_LIMITED: "Too many requests. Wait a little and try again.",
  CORRUPT_BLOB: "The stored result is damaged.",
  WRONG_KEY: "This key does not open this result.",
  BLOB_UNREADABLE: "The result could not be decrypted: the key is wrong or the file is damaged.",
  UNKNOWN_ERROR: "The server failed while processing this package. Try again later.",
  BODY_TOO_LARGE: "That is too large.",
  NETWORK: "The server could not be reached. Check your connection.",
};

const STEPS = {
  LOCKED: ["Waiting in the queue", "Your package waits for a free worker; jobs run oldest first."],
  DOWNLOADING: ["Downloading the package", "The server fetches your package from Discord with the link (the zip is deleted once analysed)."],
  ANALYZING: ["Analysing", "Reading your messages and activity, computing the statistics, then compressing and encrypting them with your key."],
  PROCESSED: ["Done", "The encrypted result is ready: this page downloads it and decrypts it here."],
};

export function messageFor(code, fallback) {
  return MESSAGES[code] || fallback || `The server answered ${code || "an error"}.`;
}

class InsightsError extends Error {
  constructor(code, message) {
    super(message || messageFor(code));
    this.code = code;
  }
}

/** Call one of our insights routes with the package key as bearer. */
async function call(method, path, upn, { json, signal } = {}) {
  const headers = { Authorization: `Bearer ${upn}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, signal, credentials: "same-origin" });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new InsightsError("NETWORK");
  }
  const data = await res.json().catch(() => null);
  if (!res.ok && !(data && "isAccepted" in data)) {
    throw new InsightsError(data?.errorMessageCode || (res.status === 401 ? "UNAUTHORIZED" : "UNKNOWN_ERROR"));
  }
  return data;
}

// ---- sending a package ----

$("link-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("link");
  const error = $("link-error");
  showError(error, "");
  let upn;
  try {
    upn = upnFromLink(input.value, config.prefixes || []);
  } catch (err) {
    if (!(err instanceof LinkError)) throw err;
    showError(error, err.message);
    input.focus();
    return;
  }
  const link = input.value.trim();
  $("link-send").disabled = true;
  try {
    const answer = await call("POST", "/process", upn, { json: { package_link: link } });
    if (!answer.isAccepted) throw new InsightsError(answer.errorMessageCode || "INVALID_LINK");
    input.value = ""; // the link is a credential: do not leave it on screen
    await begin(answer.packageId, upn, `Package link, ${new Date().toLocaleString()}`);
  } catch (err) {
    showError(error, err instanceof InsightsError ? err.message : messageFor("NETWORK"));
  } finally {
    $("link-send").disabled = false;
  }
});

let chosen = null;
let upload = null; // the XMLHttpRequest in flight

function choose(file) {
  chosen = file || null;
  $("zip-name").textContent = chosen ? `${chosen.name} (${formatSize(chosen.size)})` : "";
  $("zip-send").disabled = !chosen;
  showError($("zip-error"), "");
}

$("zip").addEventListener("change", () => choose($("zip").files[0]));
const drop = $("zip-drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("is-dropping");
});
drop.addEventListener("dragleave", () => drop.classList.remove("is-dropping"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("is-dropping");
  if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
});

async function startsLikeZip(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  return head.length === 4 && head[0] === 0x50 && head[1] === 0x4b && [3, 5, 7].includes(head[2]);
}

$("zip-send").addEventListener("click", async () => {
  const file = chosen;
  const error = $("zip-error");
  if (!file) return;
  showError(error, "");
  if (config.maxUploadBytes && file.size > config.maxUploadBytes) {
    showError(error, `${messageFor("PACKAGE_TOO_LARGE")} (the limit is ${formatSize(config.maxUploadBytes)}).`);
    return;
  }
  if (!(await startsLikeZip(file))) {
    showError(error, messageFor("NOT_A_ZIP"));
    return;
  }
  const upn = newUpn();
  $("zip-send").disabled = true;
  $("upload").hidden = false;
  try {
    const answer = await sendZip(file, upn);
    await begin(answer.packageId, upn, file.name);
    choose(null);
  } catch (err) {
    showError(error, err.message);
    $("zip-send").disabled = false;
  } finally {
    $("upload").hidden = true;
    upload = null;
  }
});

$("upload-cancel").addEventListener("click", () => upload?.abort());

/** Stream the zip to POST /process/upload with progress (XMLHttpRequest has upload events). */
function sendZip(file, upn) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    upload = xhr;
    const started = performance.now();
    xhr.open("POST", "/process/upload");
    xhr.setRequestHeader("Authorization", `Bearer ${upn}`);
    xhr.setRequestHeader("Content-Type", "application/zip");
    xhr.upload.addEventListener("progress", (e) => {
      const total = e.lengthComputable ? e.total : file.size;
      $("upload-bar").value = total ? e.loaded / total : 0;
      const rate = e.loaded / Math.max((performance.now() - started) / 1000, 0.001);
      const left = rate > 0 ? (total - e.loaded) / rate : NaN;
      $("upload-text").textContent =
        `${formatSize(e.loaded)} of ${formatSize(total)}` + (e.loaded < total ? `, ${formatDuration(left)} left` : "");
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status === 200 && data?.isAccepted) resolve(data);
      else if (xhr.status === 413) reject(new InsightsError("PACKAGE_TOO_LARGE"));
      else reject(new InsightsError(data?.errorMessageCode || "UNKNOWN_ERROR", data?.errorMessageCode ? undefined : data?.message));
    });
    xhr.addEventListener("error", () => reject(new InsightsError("NETWORK")));
    xhr.addEventListener("abort", () => reject(new InsightsError("CANCELLED", "Upload cancelled: nothing was kept on the server.")));
    xhr.send(file);
  });
}

// ---- following a job ----

let job = null; // {packageId, upn, label, since, step, stepSince, socket, timer, done}

async function begin(packageId, upn, label) {
  await keepKey({ packageId, upn, label }, $("remember").checked);
  follow(packageId, upn, label);
  renderSaved();
}

function stopFollowing() {
  if (!job) return;
  job.done = true;
  clearInterval(job.timer);
  clearInterval(job.ping);
  if (job.socket && job.socket.readyState <= 1) job.socket.close();
}

function follow(packageId, upn, label) {
  stopFollowing();
  job = { packageId, upn, label, since: Date.now(), step: null, stepSince: Date.now(), done: false };
  $("job").hidden = false;
  $("job").dataset.steps = "";
  $("job-open").hidden = true;
  $("job-delete").hidden = false;
  $("fetch-bar").hidden = true;
  showError($("job-error"), "");
  $("job-step").textContent = "Asking the server…";
  $("job-meaning").textContent = "";
  $("job-queue").textContent = "";
  loadTypical();
  job.timer = setInterval(showTiming, 1000);
  showTiming();
  $("job").scrollIntoView({ block: "nearest" });
  if (config.live && "WebSocket" in window) followLive(job);
  else poll(job);
}

async function poll(current) {
  while (!current.done) {
    try {
      const status = await call("GET", `/process/${current.packageId}/status`, current.upn);
      onStatus(current, status);
    } catch (err) {
      fail(current, err);
      return;
    }
    if (!current.done) await new Promise((r) => setTimeout(r, 1000));
  }
}

function followLive(current) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let socket;
  try {
    socket = new WebSocket(`${scheme}://${location.host}/api/ws`);
  } catch {
    poll(current);
    return;
  }
  current.socket = socket;
  let fellBack = false;
  const fallBack = () => {
    if (fellBack || current.done) return;
    fellBack = true;
    clearInterval(current.ping);
    if (socket.readyState <= 1) socket.close();
    poll(current);
  };
  socket.addEventListener("message", (event) => {
    let packet;
    try {
      packet = JSON.parse(event.data);
    } catch {
      return;
    }
    if (packet.id === "s2c:auth-ok") {
      const every = Math.max(5, (packet.data?.idle_timeout_seconds || 60) / 2) * 1000;
      current.ping = setInterval(() => send(socket, "c2s:ping", {}), every);
      send(socket, "c2s:insights-subscribe", { package_id: current.packageId, upn: current.upn });
    } else if (packet.id === "s2c:insights-status" && packet.data?.package_id === current.packageId) {
      onStatus(current, packet.data.status);
    } else if (packet.id === "generic:boolean" && packet.data?.success === false) {
      if (packet.data.code === "UNAUTHORIZED" && packet.reply_uuid) fail(current, new InsightsError("UNAUTHORIZED"));
      else fallBack();
    }
  });
  socket.addEventListener("close", fallBack);
  socket.addEventListener("error", fallBack);
}

function send(socket, id, data) {
  if (socket.readyState === 1) socket.send(JSON.stringify({ id, uuid: crypto.randomUUID(), data }));
}

function onStatus(current, status) {
  if (current.done || current !== job) return;
  if (status.errorMessageCode === "UNKNOWN_PACKAGE_ID") return fail(current, new InsightsError("UNKNOWN_PACKAGE_ID"));
  if (status.isErrored) return fail(current, new InsightsError(status.errorMessageCode || "UNKNOWN_ERROR"));
  const step = status.isDataAvailable ? "PROCESSED" : status.processingStep || "LOCKED";
  if (step !== current.step) {
    current.step = step;
    current.stepSince = Date.now();
    // The steps this job went through, in order (what a test or a curious user can read).
    $("job").dataset.steps = `${$("job").dataset.steps || ""} ${step}`.trim();
  }
  const [title, meaning] = STEPS[step] || [step, ""];
  $("job-step").textContent = title;
  $("job-step").dataset.step = step;
  $("job-meaning").textContent = meaning;
  showTypical();
  const q = status.processingQueuePosition || {};
  $("job-queue").textContent =
    step === "LOCKED" && q.total !== undefined
      ? q.user > 0 ? `${q.user} job${q.user === 1 ? "" : "s"} ahead of yours (${q.total} in the queue).` : "Yours is next."
      : "";
  showTiming();
  if (status.isDataAvailable) {
    current.done = true;
    clearInterval(current.ping);
    if (current.socket && current.socket.readyState <= 1) current.socket.close();
    fetchResult(current);
  }
}

let history = [];
durations().then((h) => { history = h; }).catch(() => { history = []; });

function showTiming() {
  if (!job) return;
  const total = (Date.now() - job.since) / 1000;
  const inStep = (Date.now() - job.stepSince) / 1000;
  let text = job.step && job.step !== "PROCESSED" ? `${formatDuration(inStep)} in this step, ${formatDuration(total)} in all.` : "";
  const past = history.filter((h) => h.packageId !== job.packageId).slice(0, 3);
  if (past.length) {
    text += ` Earlier analyses on this device took ${past.map((h) => formatDuration(h.seconds)).join(", ")} from sending to result.`;
  } else {
    text += " A package with a few hundred thousand messages usually takes under a minute once its turn comes; the largest ones (millions of messages) a few minutes.";
  }
  $("job-timing").textContent = text.trim();
}

// How long similar jobs took on this server: medians per step and in total, aggregates only
// (GET /insights/typical-durations, public; docs/insights-api.md). Null until it answered.
let typical = null;

async function loadTypical() {
  try {
    const res = await fetch("/insights/typical-durations", { credentials: "same-origin" });
    typical = res.ok ? await res.json() : null;
  } catch {
    typical = null; // the live step still shows; only the comparison is missing
  }
  showTypical();
}

function showTypical() {
  const node = $("job-typical");
  const step = job && !job.done && job.step !== "PROCESSED" ? job.step : null;
  const mine = step && typical ? typical.steps?.[step]?.typicalSeconds : null;
  const total = step && typical ? typical.total?.typicalSeconds : null;
  const parts = [];
  if (mine !== null && mine !== undefined) parts.push(`Similar jobs took about ${formatDuration(mine)} in this step`);
  if (total !== null && total !== undefined) {
    parts.push(`${parts.length ? "and" : "Similar jobs took"} about ${formatDuration(total)} from sending to result`);
  }
  node.textContent = parts.length ? `${parts.join(" ")} (medians of this server's earlier jobs).` : "";
  node.hidden = parts.length === 0;
}

function fail(current, err) {
  if (current !== job) return;
  stopFollowing();
  clearInterval(current.timer);
  $("job-step").textContent = "Stopped";
  $("job-meaning").textContent = "";
  $("job-typical").hidden = true;
  $("job-queue").textContent = "";
  $("fetch-bar").hidden = true;
  const message = err instanceof InsightsError || err instanceof BlobError ? messageFor(err.code, err.message) : messageFor("NETWORK");
  showError($("job-error"), message);
}

/** Download the encrypted result, decrypt and inflate it here, keep it, open the dashboard. */
async function fetchResult(current) {
  $("job-step").textContent = "Downloading and decrypting the result";
  $("fetch-bar").hidden = false;
  // Milliseconds per stage, kept for this tab (sessionStorage: timings only, no data) so the
  // benchmark (benchmarks/insights_dashboard.py) can read them after the dashboard opened.
  const timings = {};
  let mark = performance.now();
  const lap = (name) => {
    const now = performance.now();
    timings[name] = Math.round(now - mark);
    mark = now;
  };
  try {
    const where = await call("GET", `/process/${current.packageId}/blob`, current.upn);
    lap("link");
    const ciphertext = await download(new URL(where.url, location.href));
    lap("download");
    const gz = await decryptWire(ciphertext, where.iv, current.upn);
    lap("decrypt");
    const bytes = await gunzip(gz);
    lap("inflate");
    if (!looksLikeSqlite(bytes)) throw new BlobError("BLOB_UNREADABLE", messageFor("BLOB_UNREADABLE"));
    await saveResult({ id: current.packageId, label: current.label, savedAt: new Date().toISOString(), packageId: current.packageId, bytes });
    lap("save");
    sessionStorage.setItem("cordvault-insights-timings", JSON.stringify(timings));
    const seconds = (Date.now() - current.since) / 1000;
    await recordDuration(current.packageId, seconds, "server").catch(() => {});
    clearInterval(current.timer);
    $("job-step").textContent = "Done";
    $("job-meaning").textContent = `The result (${formatSize(bytes.byteLength)}) is decrypted and saved in this browser.`;
    $("job-timing").textContent = `It took ${formatDuration(seconds)}.`;
    $("fetch-bar").hidden = true;
    const open = $("job-open");
    open.href = `/insights/dashboard#${encodeURIComponent(current.packageId)}`;
    open.hidden = false;
    await renderSaved();
    location.assign(open.href);
  } catch (err) {
    fail(current, err);
  }
}

async function download(url) {
  let res;
  try {
    res = await fetch(url, { credentials: "omit", cache: "no-store" });
  } catch {
    throw new InsightsError("NETWORK");
  }
  if (!res.ok) throw new InsightsError(res.status === 404 ? "NOT_FOUND" : "UNKNOWN_ERROR");
  const total = Number(res.headers.get("content-length")) || 0;
  const reader = res.body.getReader();
  const parts = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.byteLength;
    if (total) $("fetch-bar").value = got / total;
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out.buffer;
}

$("job-delete").addEventListener("click", async () => {
  if (!job) return;
  await deleteFromServer(job.packageId, job.upn);
  stopFollowing();
  $("job-step").textContent = "Deleted";
  $("job-meaning").textContent = "";
  $("job-delete").hidden = true;
});

async function deleteFromServer(packageId, upn) {
  try {
    const answer = await call("DELETE", `/process/${packageId}`, upn);
    if (answer.isDeleted) say("Deleted from the server.");
    else say(messageFor(answer.errorMessageCode), answer.errorMessageCode !== "UNKNOWN_PACKAGE_ID");
    return true;
  } catch (err) {
    say(err instanceof InsightsError ? err.message : messageFor("NETWORK"), true);
    return false;
  }
}

// ---- what this device holds ----

async function renderSaved() {
  const list = $("saved");
  let results = [];
  let keys = [];
  try {
    [results, keys] = await Promise.all([listResults(), listKeys()]);
  } catch {
    results = [];
  }
  const byPackage = new Map(keys.map((k) => [k.packageId, k]));
  const items = [];
  const shown = new Set();
  for (const r of results.sort((a, b) => (a.savedAt < b.savedAt ? 1 : -1))) {
    shown.add(r.packageId || r.id);
    const key = r.packageId ? byPackage.get(r.packageId) : null;
    items.push(
      el(
        "li",
        { class: "saved", dataset: { result: r.id } },
        el("span", { class: "saved-label" }, r.label || r.id),
        el("span", { class: "meta" }, r.savedAt ? `saved ${formatDate(r.savedAt)}` : ""),
        el("a", { class: "button primary", href: `/insights/dashboard#${encodeURIComponent(r.id)}` }, "Open the dashboard"),
        el("button", { type: "button", onclick: () => forget(r.id, r.packageId) }, "Forget on this device"),
        key ? el("button", { type: "button", onclick: () => removeFromServer(r.packageId, key.upn) }, "Delete from the server") : null,
      ),
    );
  }
  for (const k of keys) {
    if (shown.has(k.packageId)) continue;
    items.push(
      el(
        "li",
        { class: "saved", dataset: { package: k.packageId } },
        el("span", { class: "saved-label" }, k.label || "A package"),
        el("span", { class: "meta" }, "not downloaded yet"),
        el("button", { type: "button", onclick: () => follow(k.packageId, k.upn, k.label) }, "Check its analysis"),
        el("button", { type: "button", onclick: () => forget(null, k.packageId) }, "Forget on this device"),
        el("button", { type: "button", onclick: () => removeFromServer(k.packageId, k.upn) }, "Delete from the server"),
      ),
    );
  }
  list.replaceChildren(...items);
  $("saved-empty").hidden = items.length > 0;
}

async function forget(resultId, packageId) {
  if (resultId) await forgetResult(resultId);
  if (packageId) await forgetKey(packageId);
  if (job && job.packageId === packageId) {
    stopFollowing();
    $("job").hidden = true;
  }
  say("Forgotten on this device.");
  await renderSaved();
}

async function removeFromServer(packageId, upn) {
  if (await deleteFromServer(packageId, upn)) {
    const results = await listResults().catch(() => []);
    if (!results.some((r) => r.packageId === packageId)) await forgetKey(packageId);
    await renderSaved();
  }
}

renderSaved();
