// The first page of `cordvault analyze --open`: fetch the one-time result file from this
// local server, keep it in IndexedDB (store.js) and open the dashboard on it. A reload finds
// the browser's copy (the file is served only once).

import { loadResult, saveResult } from "./store.js";

const root = document.getElementById("local");
const { resultId, label, source } = root.dataset;
const dashboard = `/insights/dashboard#${encodeURIComponent(resultId)}`;

async function main() {
  if (await loadResult(resultId)) {
    location.replace(dashboard);
    return;
  }
  const res = await fetch(source, { cache: "no-store" });
  if (!res.ok) {
    const error = document.getElementById("local-error");
    error.textContent = "This result was already opened in another browser or tab (the link works once). Run the command again to open it here.";
    error.hidden = false;
    document.getElementById("local-state").textContent = "";
    return;
  }
  const bytes = await res.arrayBuffer();
  await saveResult({ id: resultId, label, savedAt: new Date().toISOString(), bytes });
  location.replace(dashboard);
}

main();
