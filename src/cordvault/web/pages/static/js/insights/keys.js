// Package keys (UPNs) in the browser: make one for an uploaded zip, read one from a package
// link, and keep them for this tab (memory) or, when the user asks, on this device (IndexedDB
// database "cordvault-insights-keys"). Never localStorage, never a cookie, never a URL: the key
// leaves the browser only as the bearer of our own insights routes.

export const UPN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._";
export const UPN_LENGTH = 600; // Discord's are >= 500 characters of the alphabet above
const UPN_RE = /^[A-Za-z0-9\-._]{500,}$/;
const DISCORD_HOST = "click.discord.com";

/** A fresh random UPN (crypto.getRandomValues, rejection sampling: no modulo bias). */
export function newUpn(length = UPN_LENGTH) {
  const n = UPN_ALPHABET.length; // 65
  const limit = 256 - (256 % n); // 195: bytes at or above it would favour the first letters
  let out = "";
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    for (const b of bytes) {
      if (b < limit && out.length < length) out += UPN_ALPHABET[b % n];
    }
  }
  return out;
}

/** Whether ``upn`` has the shape of a UPN (the server checks the same rule). */
export function isUpn(upn) {
  return typeof upn === "string" && UPN_RE.test(upn);
}

export class LinkError extends Error {}

/**
 * Check a pasted package link the way the server will (``package_links.py``) and return its
 * UPN. ``prefixes`` are the server's extra accepted prefixes (DL_ZIP_WHITELISTED_DOMAINS).
 * Throws LinkError with a sentence saying what is wrong.
 */
export function upnFromLink(text, prefixes = []) {
  const link = String(text || "").trim();
  if (!link) throw new LinkError("Paste the link first.");
  if (link.length > 8192) throw new LinkError("That is too long to be a package link.");
  let url;
  try {
    url = new URL(link);
  } catch {
    throw new LinkError("That is not a link. Copy the whole address of the download button.");
  }
  const whitelisted = prefixes.some((p) => p && link.startsWith(p));
  const discord =
    url.protocol === "https:" && url.hostname === DISCORD_HOST && !url.port && url.pathname === "/ls/click";
  if (!whitelisted && !discord) {
    throw new LinkError(
      "This is not a Discord package link: copy the link of the Download Data Package button in Discord's email (it points to click.discord.com/ls/click).",
    );
  }
  const upns = url.searchParams.getAll("upn");
  if (whitelisted) {
    if (upns.length && upns[0]) return upns[0];
    // The server's rule for a whitelisted link without upn: base64(path without slashes).
    const path = url.pathname.replaceAll("/", "");
    if (!path) throw new LinkError("This link names no file.");
    return btoa(String.fromCharCode(...new TextEncoder().encode(path)));
  }
  if (upns.length === 0) {
    throw new LinkError("The link has no upn=… part: copy the whole link, not just its start.");
  }
  if (upns.length > 1 || !isUpn(upns[0])) {
    throw new LinkError("The link looks cut off or changed: copy it again from the email.");
  }
  return upns[0];
}

// ---- storage: memory for the tab, IndexedDB when remembered ----

const memory = new Map(); // packageId -> {packageId, upn, label, createdAt}
const DB_NAME = "cordvault-insights-keys";

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore("keys", { keyPath: "packageId" });
      db.createObjectStore("history", { keyPath: "packageId" });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(store, mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(store, mode);
      const req = fn(t.objectStore(store));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

/** Keep a key: always for this tab; on this device too when ``remember`` is true. */
export async function keepKey(entry, remember) {
  const rec = { createdAt: new Date().toISOString(), ...entry };
  memory.set(rec.packageId, rec);
  if (remember) await tx("keys", "readwrite", (s) => s.put(rec));
  return rec;
}

/** The key of ``packageId`` (this tab's memory first, then this device), or null. */
export async function keyFor(packageId) {
  if (memory.has(packageId)) return memory.get(packageId);
  const rec = await tx("keys", "readonly", (s) => s.get(packageId));
  return rec || null;
}

/** Every key this tab or this device knows (remembered ones flagged ``remembered``). */
export async function listKeys() {
  const stored = (await tx("keys", "readonly", (s) => s.getAll())) || [];
  const all = new Map(stored.map((r) => [r.packageId, { ...r, remembered: true }]));
  for (const [id, r] of memory) if (!all.has(id)) all.set(id, { ...r, remembered: false });
  return [...all.values()];
}

/** Forget a key everywhere in this browser. */
export async function forgetKey(packageId) {
  memory.delete(packageId);
  await tx("keys", "readwrite", (s) => s.delete(packageId));
}

/** Record how long a job took on this device (for "similar jobs took ..."). */
export async function recordDuration(packageId, seconds, source) {
  await tx("history", "readwrite", (s) =>
    s.put({ packageId, seconds, source, at: new Date().toISOString() }),
  );
}

/** Past job durations on this device, newest first. */
export async function durations() {
  const all = (await tx("history", "readonly", (s) => s.getAll())) || [];
  return all.sort((a, b) => (a.at < b.at ? 1 : -1));
}
