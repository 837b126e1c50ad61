// The insights result blob, opened in the browser with WebCrypto (docs/blob-format.md).
//
// Wire ciphertext (what GET /process/<id>/blob points at, what the Dumpus app decrypts):
//   AES-256-CBC(key = SHA-256(UTF-8(UPN)), iv, PKCS7(gzip(SQLite file)))
// The .cvblob container adds, beside it, a key check and an HMAC-SHA256 (both under HKDF keys
// of the UPN): openContainer checks the key (WRONG_KEY) and then the MAC (CORRUPT_BLOB) before
// decrypting anything, exactly in the order of insights/blob.py:decrypt_blob.
// The wire blob has no MAC (the client's format): a wrong key or damaged bytes show up as a
// padding or gzip failure, reported as BLOB_UNREADABLE.

export class BlobError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const enc = new TextEncoder();
const HKDF_SALT = enc.encode("cordvault/insights-blob");
const INFO_MAC = enc.encode("cordvault/insights-blob/v1/mac");
const INFO_KEY_CHECK = enc.encode("cordvault/insights-blob/v1/key-check");
const MAGIC = "CVBLOB";
const HEADER = 80; // magic 6, container version 1, blob version 1, iv 16, mac 32, kc 16, len 8

export function hexToBytes(hex) {
  if (typeof hex !== "string" || !/^([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new BlobError("CORRUPT_BLOB", "The blob's IV is malformed.");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

async function hkdf(upn, info, bits) {
  const ikm = await crypto.subtle.importKey("raw", enc.encode(upn), "HKDF", false, ["deriveBits"]);
  const out = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: HKDF_SALT, info },
    ikm,
    bits,
  );
  return new Uint8Array(out);
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** AES-256-CBC decrypt (PKCS7) of the wire ciphertext with SHA-256(UPN): the gzip bytes. */
export async function decryptWire(ciphertext, iv, upn) {
  const ivBytes = typeof iv === "string" ? hexToBytes(iv) : iv;
  if (ivBytes.length !== 16) throw new BlobError("CORRUPT_BLOB", "The blob's IV is malformed.");
  if (ciphertext.byteLength === 0 || ciphertext.byteLength % 16 !== 0) {
    throw new BlobError("CORRUPT_BLOB", "The blob is truncated or damaged.");
  }
  const raw = await crypto.subtle.digest("SHA-256", enc.encode(upn));
  const key = await crypto.subtle.importKey("raw", raw, "AES-CBC", false, ["decrypt"]);
  try {
    return await crypto.subtle.decrypt({ name: "AES-CBC", iv: ivBytes }, key, ciphertext);
  } catch {
    throw new BlobError(
      "BLOB_UNREADABLE",
      "The result could not be decrypted: the key is wrong or the file is damaged.",
    );
  }
}

/** Inflate a gzip member with the browser's DecompressionStream: the SQLite file bytes. */
export async function gunzip(gz) {
  try {
    const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).arrayBuffer();
  } catch {
    throw new BlobError(
      "BLOB_UNREADABLE",
      "The result could not be decrypted: the key is wrong or the file is damaged.",
    );
  }
}

/** Check that ``bytes`` starts like a SQLite database file (after decryption and gunzip). */
export function looksLikeSqlite(bytes) {
  const head = new Uint8Array(bytes, 0, Math.min(16, bytes.byteLength));
  return String.fromCharCode(...head) === "SQLite format 3\0";
}

/** The wire blob as the Dumpus app opens it: decrypt, gunzip, check -> SQLite ArrayBuffer. */
export async function openWire(ciphertext, iv, upn) {
  const db = await gunzip(await decryptWire(ciphertext, iv, upn));
  if (!looksLikeSqlite(db)) {
    throw new BlobError("BLOB_UNREADABLE", "The decrypted result is not an insights database.");
  }
  return db;
}

/** Whether ``bytes`` is a .cvblob container (by its magic). */
export function isContainer(bytes) {
  const head = new Uint8Array(bytes, 0, Math.min(6, bytes.byteLength));
  return String.fromCharCode(...head) === MAGIC;
}

/**
 * Open a .cvblob container with ``upn``: key check (WRONG_KEY), MAC (CORRUPT_BLOB), then
 * decrypt and gunzip. Resolves to the SQLite file's ArrayBuffer.
 */
export async function openContainer(bytes, upn) {
  if (bytes.byteLength < HEADER || !isContainer(bytes)) {
    throw new BlobError("CORRUPT_BLOB", "This is not a cordvault blob (.cvblob) file.");
  }
  const view = new DataView(bytes);
  const u8 = new Uint8Array(bytes);
  if (view.getUint8(6) !== 1) throw new BlobError("CORRUPT_BLOB", "Unknown blob container version.");
  const version = view.getUint8(7);
  if (version !== 1) throw new BlobError("CORRUPT_BLOB", "Unknown blob format version.");
  const iv = u8.slice(8, 24);
  const mac = u8.slice(24, 56);
  const keyCheck = u8.slice(56, 72);
  const length = view.getBigUint64(72);
  if (BigInt(bytes.byteLength - HEADER) !== length) {
    throw new BlobError("CORRUPT_BLOB", "The blob file is truncated or has extra bytes.");
  }
  if (!sameBytes(await hkdf(upn, INFO_KEY_CHECK, 128), keyCheck)) {
    throw new BlobError("WRONG_KEY", "This key does not open this result.");
  }
  const ciphertext = bytes.slice(HEADER);
  if (ciphertext.byteLength === 0 || ciphertext.byteLength % 16 !== 0) {
    throw new BlobError("CORRUPT_BLOB", "The blob is truncated or damaged.");
  }
  const macKey = await crypto.subtle.importKey(
    "raw",
    await hkdf(upn, INFO_MAC, 256),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const signed = new Uint8Array(1 + 16 + ciphertext.byteLength);
  signed[0] = version;
  signed.set(iv, 1);
  signed.set(new Uint8Array(ciphertext), 17);
  if (!(await crypto.subtle.verify("HMAC", macKey, mac, signed))) {
    throw new BlobError("CORRUPT_BLOB", "The blob file was changed or damaged.");
  }
  return openWire(ciphertext, iv, upn);
}
