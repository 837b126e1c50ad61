// Opening an encrypted result file (.cvblob, written by `cordvault analyze --blob`) on the
// dashboard: ask for its key in the page's #blob-key form, check it and decrypt here
// (blob.js: key check, MAC, AES-CBC, gunzip). Nothing is sent anywhere; the key is not kept.

import { BlobError, isContainer, openContainer } from "./blob.js";

export { isContainer };

const $ = (id) => document.getElementById(id);

/** The UPN in what the user typed: a whole package link (its upn value) or the key itself. */
function keyOf(text) {
  const t = String(text || "").trim();
  if (t.includes("upn=")) {
    try {
      return new URL(t).searchParams.get("upn") || "";
    } catch {
      return t.split("upn=", 2)[1].split("&", 1)[0];
    }
  }
  return t;
}

/**
 * Ask for the key of the container ``buffer`` until it opens or the user cancels.
 * Resolves to the SQLite file's ArrayBuffer, or null when cancelled. ``showError(text)`` puts
 * a sentence in the page's error line ("" clears it).
 */
export function openBlobFile(buffer, showError) {
  const form = $("blob-key");
  const input = $("blob-key-input");
  form.hidden = false;
  input.value = "";
  input.focus();
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener("submit", onSubmit);
      $("blob-key-cancel").removeEventListener("click", onCancel);
      input.value = "";
      form.hidden = true;
      resolve(value);
    };
    const onCancel = () => {
      showError("");
      finish(null);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      const key = keyOf(input.value);
      if (!key) {
        showError("Enter the key first.");
        return;
      }
      showError("");
      try {
        finish(await openContainer(buffer, key));
      } catch (err) {
        showError(err instanceof BlobError ? err.message : "This file could not be decrypted.");
        input.select();
      }
    };
    form.addEventListener("submit", onSubmit);
    $("blob-key-cancel").addEventListener("click", onCancel);
  });
}
