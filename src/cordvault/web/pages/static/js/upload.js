// Uploads through the resumable chunk API (docs/drive-api.md, Uploads):
// open a session (no digest yet), send the chunks with several in flight while the file is
// hashed alongside (SHA-256, incremental, vendored hash-wasm), then complete with the digest
// (the server verifies it against what it stored). Chunks are retried with backoff on network
// errors; the session id is kept in localStorage so re-selecting the same file after a reload
// or a dropped connection resumes it: the server lists the chunks it has and only the others
// are sent, while the whole file is hashed again locally (nothing but the id is remembered:
// the digest is always of the file selected now, so a changed file cannot be completed).
import { api, ApiError, describe, el, formatDuration, formatSize, say } from "./api.js";
import { askConflict } from "./dialogs.js";

const CHUNKS_IN_FLIGHT = 4;
const FILES_IN_FLIGHT = 2;
const MAX_ATTEMPTS = 6;
const HASH_SLICE = 8 * 1024 * 1024;
const CSRF = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const KEY_PREFIX = "cordvault.upload.";

function resumeKey(folderId, file) {
  return `${KEY_PREFIX}${folderId}/${file.name}/${file.size}/${file.lastModified}`;
}

/** Unfinished uploads remembered for ``folderId`` (to tell the user what can resume). */
export function pendingUploads(folderId) {
  const out = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key && key.startsWith(`${KEY_PREFIX}${folderId}/`)) {
      try { out.push(JSON.parse(localStorage.getItem(key)).name); } catch { /* ignore */ }
    }
  }
  return out;
}

async function sha256(file, onProgress, signal) {
  const hasher = await window.hashwasm.createSHA256();
  hasher.init();
  for (let at = 0; at < file.size; at += HASH_SLICE) {
    if (signal.aborted) throw new DOMException("cancelled", "AbortError");
    const buf = await file.slice(at, at + HASH_SLICE).arrayBuffer();
    hasher.update(new Uint8Array(buf));
    onProgress(Math.min(file.size, at + HASH_SLICE));
  }
  return hasher.digest("hex");
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(t); reject(new DOMException("cancelled", "AbortError")); }, { once: true });
});

/** PUT one chunk with XHR (fetch has no upload progress). Resolves on 2xx. */
function putChunk(url, blob, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("X-CSRF-Token", CSRF);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) { resolve(); return; }
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      reject(new ApiError(xhr.status, data?.errorMessageCode || "UNKNOWN_ERROR", data?.message || "", data?.details));
    };
    xhr.onerror = () => reject(new ApiError(0, "NETWORK", "network error"));
    xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
}

function retryable(err) {
  return err instanceof ApiError && (err.status === 0 || err.status >= 500 || err.status === 429 || err.code === "CONFLICT");
}

class Item {
  constructor(uploader, file, folderId, folderPath) {
    this.uploader = uploader;
    this.file = file;
    this.folderId = folderId;
    this.folderPath = folderPath;
    this.done = 0; // bytes confirmed by the server
    this.inflight = new Map(); // chunk index -> bytes sent so far
    this.state = "queued";
    this.policy = null;
    this.controller = new AbortController();
    const label = folderPath ? `${folderPath}/${file.name}` : file.name;
    this.bar = el("progress", { max: Math.max(1, file.size), value: 0, "aria-label": `Progress of ${label}` });
    this.text = el("span", { class: "upload-state" }, "Waiting");
    this.cancelButton = el("button", { type: "button", onclick: () => this.cancel() }, "Cancel");
    this.retryButton = el("button", { type: "button", hidden: true, onclick: () => this.retry() }, "Retry");
    this.row = el("li", { class: "upload" }, el("span", { class: "upload-name" }, label), this.bar, this.text, this.cancelButton, this.retryButton);
  }

  get sent() {
    let n = this.done;
    for (const v of this.inflight.values()) n += v;
    return Math.min(n, this.file.size);
  }

  setState(state, text) {
    this.state = state;
    this.text.textContent = text;
    this.row.dataset.state = state;
    const finished = state === "done" || state === "cancelled" || state === "skipped";
    this.cancelButton.hidden = finished || state === "failed";
    this.retryButton.hidden = state !== "failed";
  }

  cancel() {
    this.controller.abort();
    if (this.session) api("DELETE", `/api/drive/uploads/${this.session}`).catch(() => {});
    localStorage.removeItem(resumeKey(this.folderId, this.file));
    this.setState("cancelled", "Cancelled");
    this.uploader.changed();
  }

  retry() {
    this.controller = new AbortController();
    this.setState("queued", "Waiting");
    this.uploader.schedule(this);
  }

  async run() {
    const signal = this.controller.signal;
    const key = resumeKey(this.folderId, this.file);
    let received = new Set();
    const saved = JSON.parse(localStorage.getItem(key) || "null");
    if (saved) {
      try {
        const up = await api("GET", `/api/drive/uploads/${saved.id}`);
        if (up.state === "open") {
          this.session = up.id;
          this.chunkSize = up.chunk_size;
          this.chunkCount = up.chunk_count;
          received = new Set(up.received);
        }
      } catch { /* expired or gone: start over */ }
      if (!this.session) localStorage.removeItem(key);
    }
    if (!this.session) {
      const up = await this.open();
      if (!up) return;
      this.session = up.id;
      this.chunkSize = up.chunk_size;
      this.chunkCount = up.chunk_count;
      localStorage.setItem(key, JSON.stringify({ id: up.id, name: this.file.name }));
    }
    const todo = [];
    for (let i = 0; i < this.chunkCount; i++) {
      if (received.has(i)) this.done += this.chunkLength(i);
      else todo.push(i);
    }
    this.resumed = received.size;
    this.setState("sending", received.size ? `Resuming (${received.size} of ${this.chunkCount} parts already stored)` : "Sending");
    this.uploader.changed();
    const worker = async () => {
      while (todo.length) {
        const i = todo.shift();
        await this.sendChunk(i, signal);
      }
    };
    // Hashing reads the file in order on the main thread between network callbacks; it
    // overlaps the sending instead of delaying the first chunk.
    const stopHash = new AbortController();
    signal.addEventListener("abort", () => stopHash.abort(), { once: true });
    const hashing = sha256(this.file, () => {}, stopHash.signal);
    hashing.catch(() => {}); // a failed send rejects first; do not leave this one unhandled
    try {
      await Promise.all(Array.from({ length: Math.min(CHUNKS_IN_FLIGHT, todo.length) }, worker));
    } catch (err) {
      stopHash.abort(); // a retry starts over (and hashes again)
      throw err;
    }
    this.setState("finishing", "Verifying");
    const digest = await hashing;
    const result = await api("POST", `/api/drive/uploads/${this.session}/complete`, { json: { sha256: digest }, signal });
    localStorage.removeItem(key);
    this.setState(result.skipped ? "skipped" : "done", result.skipped ? "Skipped (name taken)" : "Done");
    return result.file;
  }

  chunkLength(i) {
    return i < this.chunkCount - 1 ? this.chunkSize : this.file.size - (this.chunkCount - 1) * this.chunkSize;
  }

  async open() {
    let policy = this.policy || this.uploader.policyForAll || "fail";
    for (;;) {
      try {
        return await api("POST", "/api/drive/uploads", {
          json: { folder_id: this.folderId, name: this.file.name, size: this.file.size, mime_type: this.file.type || null, on_conflict: policy },
          signal: this.controller.signal,
        });
      } catch (err) {
        if (!(err instanceof ApiError) || err.code !== "NAME_CONFLICT" || policy !== "fail") throw err;
        const answer = await askConflict(this.file.name);
        if (!answer) { this.setState("cancelled", "Cancelled"); return null; }
        if (answer.all) this.uploader.policyForAll = answer.policy;
        if (answer.policy === "skip") { this.setState("skipped", "Skipped (name taken)"); return null; }
        policy = answer.policy;
      }
    }
  }

  async sendChunk(i, signal) {
    const start = i * this.chunkSize;
    const blob = this.file.slice(start, start + this.chunkLength(i));
    for (let attempt = 1; ; attempt++) {
      try {
        this.inflight.set(i, 0);
        await putChunk(`/api/drive/uploads/${this.session}/chunks/${i}`, blob, (n) => { this.inflight.set(i, n); this.uploader.tick(); }, signal);
        this.inflight.delete(i);
        this.done += blob.size;
        this.uploader.tick();
        return;
      } catch (err) {
        this.inflight.delete(i);
        if (!retryable(err) || attempt >= MAX_ATTEMPTS) throw err;
        const wait = Math.min(30000, 500 * 2 ** (attempt - 1));
        this.text.textContent = `Connection trouble; retrying in ${Math.round(wait / 1000)} s`;
        await sleep(wait, signal);
        this.text.textContent = "Sending";
      }
    }
  }
}

export class Uploader {
  /** ``panel``: the uploads <section>; ``onUploaded(file)``: a file was stored. */
  constructor(panel, onUploaded) {
    this.panel = panel;
    this.onUploaded = onUploaded;
    this.items = [];
    this.queue = [];
    this.running = 0;
    this.policyForAll = null;
    this.list = panel.querySelector("ul");
    this.total = panel.querySelector("progress");
    this.summary = panel.querySelector(".upload-summary");
    this.samples = [];
    this.lastAnnounce = 0;
    window.addEventListener("beforeunload", (e) => { if (this.active()) { e.preventDefault(); e.returnValue = ""; } });
  }

  active() { return this.items.some((it) => !["done", "cancelled", "skipped", "failed"].includes(it.state)); }

  /** Queue ``entries`` ([{file, dir}] with ``dir`` relative to the folder) into ``folder``. */
  async add(entries, folder) {
    if (!entries.length) return;
    this.panel.hidden = false;
    if (!this.active()) this.policyForAll = null;
    const ids = new Map([["", folder.id]]);
    const dirs = [...new Set(entries.map((e) => e.dir).filter(Boolean))].sort();
    for (const dir of dirs) {
      try {
        const base = folder.path === "/" ? "" : folder.path;
        const made = await api("POST", `/api/drive/mkdir?path=${encodeURIComponent(`${base}/${dir}`)}`);
        ids.set(dir, made.id);
      } catch (err) {
        say(`Could not create the folder ${dir}: ${describe(err)}`, true);
        return;
      }
    }
    for (const e of entries) {
      const item = new Item(this, e.file, ids.get(e.dir || ""), e.dir || "");
      this.items.push(item);
      this.list.append(item.row);
      this.schedule(item);
    }
    say(`Uploading ${entries.length} file${entries.length === 1 ? "" : "s"}.`);
    this.changed();
  }

  schedule(item) {
    this.queue.push(item);
    this.pump();
  }

  pump() {
    while (this.running < FILES_IN_FLIGHT && this.queue.length) {
      const item = this.queue.shift();
      if (item.state !== "queued") continue;
      this.running++;
      item.run().then((file) => {
        if (file) this.onUploaded(file);
      }).catch((err) => {
        if (item.state === "cancelled") return;
        item.setState("failed", describe(err));
        say(`${item.file.name}: ${describe(err)}`, true);
      }).finally(() => {
        this.running--;
        this.changed();
        this.pump();
      });
    }
  }

  changed() { this.tick(true); }

  tick(force = false) {
    const now = performance.now();
    if (!force && now - (this.lastTick || 0) < 100) return;
    this.lastTick = now;
    const live = this.items.filter((it) => it.state !== "cancelled" && it.state !== "skipped");
    const size = live.reduce((a, it) => a + it.file.size, 0);
    const sent = live.reduce((a, it) => a + it.sent, 0);
    for (const it of this.items) it.bar.value = it.state === "done" ? it.bar.max : it.sent;
    this.total.max = Math.max(1, size);
    this.total.value = sent;
    this.samples.push([now, sent]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 5000) this.samples.shift();
    const [t0, b0] = this.samples[0];
    const speed = now > t0 ? ((sent - b0) * 1000) / (now - t0) : 0;
    const left = speed > 0 ? (size - sent) / speed : Infinity;
    const done = this.items.filter((it) => it.state === "done").length;
    const failed = this.items.filter((it) => it.state === "failed").length;
    let text = `${done} of ${this.items.length} done · ${formatSize(sent)} of ${formatSize(size)}`;
    if (this.active() && speed > 0) text += ` · ${formatSize(speed)}/s · ${formatDuration(left)} left`;
    if (failed) text += ` · ${failed} failed`;
    this.summary.textContent = text;
    if (!this.active() && force && this.items.length) {
      this.summary.dataset.state = failed ? "failed" : "done";
    } else {
      delete this.summary.dataset.state;
    }
    if (now - this.lastAnnounce > 10000 && this.active()) {
      this.lastAnnounce = now;
      say(`Upload ${Math.floor((100 * sent) / Math.max(1, size))} % done.`);
    }
  }
}

/** Files (with their folder path) of a drop: folders are walked recursively. */
export async function droppedEntries(dataTransfer) {
  const out = [];
  const items = [...(dataTransfer.items || [])];
  const entries = items.map((it) => (it.webkitGetAsEntry ? it.webkitGetAsEntry() : null));
  if (entries.some(Boolean)) {
    for (const entry of entries) if (entry) await walk(entry, "", out);
    return out;
  }
  for (const file of dataTransfer.files || []) out.push({ file, dir: "" });
  return out;
}

async function walk(entry, dir, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ file, dir });
    return;
  }
  if (!entry.isDirectory) return;
  const sub = dir ? `${dir}/${entry.name}` : entry.name;
  const reader = entry.createReader();
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    for (const child of batch) await walk(child, sub, out);
  }
}

/** Files of an <input type=file> (with ``webkitdirectory``: their relative folders). */
export function pickedEntries(input) {
  return [...input.files].map((file) => {
    const rel = file.webkitRelativePath || "";
    const dir = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    return { file, dir };
  });
}
