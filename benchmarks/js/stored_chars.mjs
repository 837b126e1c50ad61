// Prints, for each SQLite file given, the length of what the Dumpus app stores in localStorage:
// LZString.compressToUTF16(JSON.stringify(Array.from(bytes))) (src/utils/convert.ts), as JSON.
import { readFileSync } from "node:fs";
import LZString from "lz-string";

const out = {};
for (const path of process.argv.slice(2)) {
  const bytes = new Uint8Array(readFileSync(path));
  const started = performance.now();
  const stored = LZString.compressToUTF16(JSON.stringify(Array.from(bytes)));
  out[path] = { bytes: bytes.length, chars: stored.length, ms: Math.round(performance.now() - started) };
}
console.log(JSON.stringify(out));
