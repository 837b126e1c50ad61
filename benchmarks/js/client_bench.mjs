// The Dumpus app's work on results databases, with its own libraries (sql.js, lz-string).
// Usage: node client_bench.mjs QUERIES.json ROUNDS FILE...   (QUERIES.json: [[name, sql], ...])
// ENCODE=0 skips the localStorage encoding (minutes on a 100 MB file; the Python port in
// tests/insights/client_storage.py gives the same number).
// For each file: the localStorage length (LZString.compressToUTF16(JSON.stringify(
// Array.from(bytes))), as src/utils/convert.ts stores it), the time to open it with sql.js,
// and the time to run every query once (best and median of ROUNDS, each round on a freshly
// opened database, as the app's query cache starts empty). Prints one JSON object, including
// whether every file gave the same rows as the first for every query.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import LZString from "lz-string";

const require = createRequire(import.meta.url);
const initSqlJs = require("sql.js");
const [queriesPath, roundsArg, ...files] = process.argv.slice(2);
const queries = JSON.parse(readFileSync(queriesPath, "utf8"));
const rounds = Number(roundsArg);
const SQL = await initSqlJs();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = { sqlite: null, queries: queries.length, files: {} };
// Encode and open each file once, then run the rounds round-robin over the files, so a
// shared machine's drift hits every file alike.
const state = files.map((path) => {
  const bytes = new Uint8Array(readFileSync(path));
  const t = performance.now();
  const encode = process.env.ENCODE !== "0";
  const stored = encode ? LZString.compressToUTF16(JSON.stringify(Array.from(bytes))) : null;
  return { path, bytes, stored, encodeMs: performance.now() - t, opens: [], runs: [],
           perQuery: queries.map(() => []), answers: null };
});
for (let r = 0; r < rounds; r++) {
  for (const s of state) {
    let t = performance.now();
    const db = new SQL.Database(s.bytes);
    s.opens.push(performance.now() - t);
    const got = [];
    const roundStart = performance.now();
    queries.forEach(([, sql], i) => {
      t = performance.now();
      got.push(JSON.stringify(db.exec(sql)));
      s.perQuery[i].push(performance.now() - t);
    });
    s.runs.push(performance.now() - roundStart);
    if (s.answers === null) s.answers = got;
    if (out.sqlite === null) out.sqlite = db.exec("SELECT sqlite_version()")[0].values[0][0];
    db.close();
  }
}
for (const s of state) {
  const reference = state[0].answers;
  out.files[s.path] = {
    bytes: s.bytes.length,
    stored_chars: s.stored === null ? null : s.stored.length,
    encode_ms: Math.round(s.encodeMs),
    open_ms: Math.round(median(s.opens)),
    queries_ms_best: Math.round(Math.min(...s.runs)),
    queries_ms_median: Math.round(median(s.runs)),
    per_query_ms: s.perQuery.map((xs) => Math.round(median(xs) * 10) / 10),
    differing_from_first: queries.filter((_, i) => s.answers[i] !== reference[i]).map(([n]) => n),
  };
}
console.log(JSON.stringify(out));
