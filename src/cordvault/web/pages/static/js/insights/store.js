// The insights results kept on this device (IndexedDB; never localStorage: 5 MiB is too small
// for a 60 MB database). The contract shared by /insights (which saves) and the dashboard
// (which loads):
//   database "cordvault-insights", object store "results", key = result id (string),
//   value {id, label, savedAt, packageId?, bytes: ArrayBuffer (the SQLite file)};
//   object store "people" (version 2), key = the same result id, value {id, users: {<user id>:
//   {displayName, username, avatar: Blob|null, at}}}: the names and avatars the dashboard looked
//   up for that result's DM users (people.js), kept beside it and forgotten with it.
// Nothing here sends anything anywhere.

const DB_NAME = "cordvault-insights";
const STORE = "results";
const PEOPLE = "people";
const VERSION = 2;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openStore() {
  const req = indexedDB.open(DB_NAME, VERSION);
  req.onupgradeneeded = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: "id" });
    if (!db.objectStoreNames.contains(PEOPLE)) db.createObjectStore(PEOPLE, { keyPath: "id" });
  };
  return request(req);
}

async function withStore(mode, work, name = STORE) {
  const db = await openStore();
  try {
    const tx = db.transaction(name, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("aborted"));
    });
    const result = await request(work(tx.objectStore(name)));
    await done;
    return result;
  } finally {
    db.close();
  }
}

/** Save (or replace) one result. rec: {id, label, savedAt?, packageId?, bytes: ArrayBuffer}. */
export async function saveResult(rec) {
  if (!rec || typeof rec.id !== "string" || !rec.id) throw new Error("a result needs an id");
  const bytes = rec.bytes instanceof ArrayBuffer ? rec.bytes : new Uint8Array(rec.bytes).slice().buffer;
  const value = { ...rec, bytes, label: rec.label ?? rec.id, savedAt: rec.savedAt ?? new Date().toISOString() };
  await withStore("readwrite", (s) => s.put(value));
  return value;
}

/** One result, or null when this device does not have it. */
export async function loadResult(id) {
  const found = await withStore("readonly", (s) => s.get(String(id)));
  return found ?? null;
}

/** Every saved result without its bytes: [{id, label, savedAt, packageId?, size}], newest first. */
export async function listResults() {
  const all = await withStore("readonly", (s) => s.getAll());
  return all
    .map(({ bytes, ...meta }) => ({ ...meta, size: bytes ? bytes.byteLength : 0 }))
    .sort((a, b) => String(b.savedAt).localeCompare(String(a.savedAt)));
}

/** Delete one result (and the names looked up for it) from this device (no error when absent). */
export async function forgetResult(id) {
  await withStore("readwrite", (s) => s.delete(String(id)));
  await withStore("readwrite", (s) => s.delete(String(id)), PEOPLE);
}

/** The names and avatars looked up for result ``id``: {<user id>: {...}} (empty when none). */
export async function loadPeople(id) {
  const found = await withStore("readonly", (s) => s.get(String(id)), PEOPLE);
  return found?.users ?? {};
}

/** Keep the names and avatars looked up for result ``id`` (replaces the previous set). */
export async function savePeople(id, users) {
  await withStore("readwrite", (s) => s.put({ id: String(id), users }), PEOPLE);
}
