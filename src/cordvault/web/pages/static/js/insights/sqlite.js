// Opening an insights result (a SQLite file) in the browser with the vendored sql.js (wasm).
//
// Nothing here touches the network except our own origin's /static/vendor/sql.js/ files: the
// database bytes stay in this tab. Two ways in:
// - openDatabase(bytes): a sql.js Database on the main thread (small files, simple callers);
// - openWorkerDatabase(bytes): the same engine in a Web Worker (sql.js's own worker build), so
//   a 60 MB database's queries never freeze the page; answers are {columns, values} sets.
// The page's CSP allows compiling wasm ('wasm-unsafe-eval'), not eval.

const HERE = new URL(import.meta.url);
const VERSION = HERE.search; // the ?v= cache buster of our own URL, reused for the vendor files
const VENDOR = new URL("../../vendor/sql.js/", HERE);

function vendorUrl(file) {
  return new URL(file + VERSION, VENDOR).href;
}

let sqlPromise = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = () => resolve();
    el.onerror = () => reject(new Error("could not load the SQLite engine"));
    document.head.append(el);
  });
}

/** The sql.js module (loaded once per page). */
export function loadSqlJs() {
  if (!sqlPromise) {
    sqlPromise = (async () => {
      if (typeof globalThis.initSqlJs !== "function") await loadScript(vendorUrl("sql-wasm.js"));
      return globalThis.initSqlJs({ locateFile: (file) => vendorUrl(file) });
    })();
    sqlPromise.catch(() => {
      sqlPromise = null;
    });
  }
  return sqlPromise;
}

/** Open SQLite bytes (Uint8Array) as a sql.js Database on the main thread. */
export async function openDatabase(bytes) {
  const SQL = await loadSqlJs();
  return new SQL.Database(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
}

/**
 * Open SQLite bytes in a Web Worker. Returns {query(sql, params) -> Promise<object[]>,
 * close()}; query answers rows as plain objects keyed by column name. The bytes are copied
 * into the worker, or moved there with options.transfer (the caller's copy is then gone).
 */
export async function openWorkerDatabase(bytes, options = {}) {
  const worker = new Worker(vendorUrl("worker.sql-wasm.js"));
  let nextId = 1;
  const pending = new Map();
  worker.onmessage = (event) => {
    const { id, error } = event.data;
    const waiter = pending.get(id);
    if (!waiter) return;
    pending.delete(id);
    if (error) waiter.reject(new Error(error));
    else waiter.resolve(event.data);
  };
  worker.onerror = (event) => {
    for (const waiter of pending.values()) waiter.reject(new Error(event.message || "worker failed"));
    pending.clear();
  };
  const call = (message, transfer = []) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...message }, transfer);
    });
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  // With transfer, the buffer moves to the worker (no 60 MB copy; the caller's view is
  // emptied); only a view over its whole buffer can move.
  const movable = options.transfer && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  try {
    await call({ action: "open", buffer: view }, movable ? [view.buffer] : []);
  } catch (err) {
    worker.terminate();
    throw err;
  }
  return {
    async query(sql, params) {
      const answer = await call({ action: "exec", sql, params: params ?? [] });
      return rowsOf(answer.results);
    },
    close() {
      for (const waiter of pending.values()) waiter.reject(new Error("database closed"));
      pending.clear();
      worker.terminate();
    },
  };
}

/** The last result set of an exec answer as objects. */
function rowsOf(results) {
  if (!results || results.length === 0) return [];
  const { columns, values } = results[results.length - 1];
  return values.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
}

/** The same query() interface over a main-thread sql.js Database (tests, small files). */
export function queryInterface(db) {
  return {
    async query(sql, params) {
      const stmt = db.prepare(sql);
      try {
        if (params && params.length) stmt.bind(params);
        const rows = [];
        while (stmt.step()) rows.push(stmt.getAsObject());
        return rows;
      } finally {
        stmt.free();
      }
    },
    close() {
      db.close();
    },
  };
}
