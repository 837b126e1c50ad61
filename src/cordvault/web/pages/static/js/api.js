// The pages' one door to the REST API: same-origin fetch with the session cookie and the
// page's CSRF token; errors become ApiError with a readable message (never raw JSON).

const CSRF = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

// errorMessageCode -> text shown next to what failed.
const MESSAGES = {
  UNAUTHORIZED: "Your session has ended. Sign in again.",
  FORBIDDEN: "You are not allowed to do this.",
  CSRF_FAILED: "This page has expired. Reload it and try again.",
  NOT_FOUND: "It does not exist any more (someone may have moved or deleted it).",
  NAME_CONFLICT: "Something with this name already exists here.",
  INVALID_NAME: "This name is not allowed.",
  CONFLICT: "This conflicts with the current state; reload and try again.",
  RATE_LIMITED: "Too many attempts. Wait a few minutes.",
  UPLOAD_INCOMPLETE: "Some parts of the upload are missing.",
  CHECKSUM_MISMATCH: "The uploaded file changed or was damaged on the way; upload it again.",
  STORAGE_FULL: "The storage is full.",
  STORAGE_UNAVAILABLE: "The storage is unavailable right now; try again later.",
  BODY_TOO_LARGE: "That is too large.",
  RANGE_NOT_SATISFIABLE: "That part of the file does not exist.",
  INTEGRITY_ERROR: "The stored file is damaged.",
  NETWORK: "The server could not be reached. Check your connection.",
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

/** A readable sentence for an error (ApiError, network failure or anything else). */
export function describe(err) {
  if (err instanceof ApiError) {
    if (err.code === "QUOTA_EXCEEDED") return quotaExceeded(err.details);
    const base = MESSAGES[err.code];
    if (err.code === "INVALID_INPUT" || !base) return sentence(err.message || "The request was refused.");
    return base;
  }
  if (err && err.name === "AbortError") return "Cancelled.";
  return MESSAGES.NETWORK;
}

/** QUOTA_EXCEEDED's details (quota, used, requested, available: bytes) as one sentence. */
function quotaExceeded(d) {
  if (!d || d.quota === undefined) return "Your storage quota is full.";
  return `Not enough space in your quota: this needs ${formatSize(d.requested)}, and you use ${formatSize(d.used)} of ${formatSize(d.quota)} (${formatSize(d.available)} left). Delete files or empty the trash, or ask an administrator for more.`;
}

function sentence(text) {
  const t = String(text);
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? "" : ".");
}

/** Call the API. ``json`` is sent as JSON; ``body`` as is. Resolves to parsed JSON (or null). */
export async function api(method, path, { json, body, headers = {}, signal } = {}) {
  const h = { ...headers };
  if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = CSRF;
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body, signal, credentials: "same-origin" });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "NETWORK", "network error");
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  const data = type.includes("application/json") ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    if (res.status === 401) sessionEnded();
    throw new ApiError(res.status, data?.errorMessageCode || "UNKNOWN_ERROR", data?.message || res.statusText, data?.details);
  }
  return data;
}

function sessionEnded() {
  say("Your session has ended. Sign in again.", true);
  setTimeout(() => { window.location.assign("/login"); }, 1500);
}

let statusTimer = 0;
/** Announce ``text`` in the page's live region (errors stay until the next message). */
export function say(text, isError = false) {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("is-error", isError);
  clearTimeout(statusTimer);
  if (!isError) statusTimer = setTimeout(() => { el.textContent = ""; }, 6000);
}

export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB", "PB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatDate(iso) {
  const d = new Date(iso.endsWith("Z") || iso.includes("+") ? iso : iso + "Z");
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatDuration(seconds) {
  if (!isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Create an element: el("button", {class: "x", onclick: f}, "text", child...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Show ``message`` in the form error element ``node`` (role=alert) or clear it. */
export function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}
