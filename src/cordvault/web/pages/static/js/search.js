// The search page: names across everything the signed-in user may see
// (GET /api/drive/search: case- and accent-insensitive substring, kind / type / size filters),
// pages of 50 linked by URL (?q=...&offset=...), each result with the folder it is in.
// The query lives in the URL (the app shell's search box is a plain GET form to /search).
import { api, describe, el, formatDate, formatSize, showError } from "./api.js";

const PAGE = 50;
const MB = 1024 * 1024;
const params = new URLSearchParams(location.search);
const form = document.getElementById("search-form");
const results = document.getElementById("search-results");
const summary = document.getElementById("search-summary");
const errorBox = document.getElementById("search-error");

// The form shows what is searched (the q field is filled by the template).
for (const name of ["kind", "type", "min_mb", "max_mb"]) {
  const field = form.elements.namedItem(name);
  if (params.get(name)) field.value = params.get(name);
}

// Folder id -> its path ("/a/b"), one request per folder however many results it holds.
const paths = new Map();
function folderPath(id) {
  if (!paths.has(id)) {
    paths.set(id, api("GET", `/api/drive/folders/${encodeURIComponent(id)}?limit=1`).then((d) => d.path, () => null));
  }
  return paths.get(id);
}

function badge(item) {
  if (item.kind === "folder") return item.public ? el("span", { class: "badge" }, "public") : null;
  const own = Number(document.body.dataset.userId) === item.owner_id;
  if (item.access === "none") return el("span", { class: "badge" }, "private");
  if (own) return item.public ? el("span", { class: "badge" }, "public") : null;
  if (item.public && item.access === "read") return el("span", { class: "badge" }, "public");
  return el("span", { class: "badge" }, item.access === "write" ? "shared · can edit" : "shared · can view");
}

function renderResult(item) {
  const isFolder = item.kind === "folder";
  const href = isFolder ? `/drive?folder=${encodeURIComponent(item.id)}` : `/view/${encodeURIComponent(item.id)}`;
  const parent = isFolder ? item.parent_id : item.folder_id;
  const where = el("span", { class: "result-path" }, "…");
  if (parent) {
    folderPath(parent).then((path) => {
      where.replaceChildren("in ", path ? el("a", { href: `/drive?folder=${encodeURIComponent(parent)}` }, path) : "a folder you cannot open");
    });
  } else {
    where.textContent = "the top of the drive";
  }
  return el("li", { class: `result ${isFolder ? "is-folder" : "is-file"}`, dataset: { id: item.id, kind: item.kind } },
    el("span", { class: "icon" }, el("img", { src: `/static/img/${isFolder ? "folder" : "file"}.svg`, alt: isFolder ? "Folder" : "File", width: 22, height: 22 })),
    el("span", { class: "result-label" },
      el("span", {}, el("a", { class: "name", href }, item.name), badge(item)),
      where),
    el("span", { class: "size" }, isFolder ? "folder" : formatSize(item.size)),
    el("span", { class: "date" }, formatDate(item.updated_at)));
}

function pageLink(node, offset) {
  const next = new URLSearchParams(params);
  if (offset > 0) next.set("offset", String(offset));
  else next.delete("offset");
  node.href = `/search?${next}`;
  node.hidden = false;
}

async function main() {
  const q = (params.get("q") || "").trim().slice(0, 200); // the API's limit (as the page's field)
  if (!q) {
    summary.textContent = "Type a name (or part of one) to search.";
    return;
  }
  const offset = Math.max(0, Number.parseInt(params.get("offset") || "0", 10) || 0);
  const query = new URLSearchParams({ q, limit: String(PAGE), offset: String(offset) });
  if (params.get("kind")) query.set("kind", params.get("kind"));
  if (params.get("type")) query.set("type", params.get("type"));
  for (const [from, to] of [["min_mb", "min_size"], ["max_mb", "max_size"]]) {
    const mb = Number.parseFloat(params.get(from) || "");
    if (Number.isFinite(mb) && mb >= 0) query.set(to, String(Math.round(mb * MB)));
  }
  document.title = `${q} · Search · cordvault`;
  let page;
  try {
    page = await api("GET", `/api/drive/search?${query}`);
  } catch (err) {
    showError(errorBox, `The search failed: ${describe(err)}`);
    return;
  }
  results.replaceChildren(...page.items.map(renderResult));
  const first = offset + 1;
  const last = offset + page.items.length;
  if (!page.items.length) {
    summary.textContent = offset ? `No more results for “${q}”.` : `Nothing you can see is named like “${q}”.`;
  } else {
    summary.textContent = `Results ${first}–${last}${page.has_more ? "" : ` of ${last}`} for “${q}”.`;
  }
  const pager = document.getElementById("search-pager");
  pager.hidden = !(offset > 0 || page.has_more);
  if (offset > 0) pageLink(document.getElementById("search-prev"), Math.max(0, offset - PAGE));
  if (page.has_more) pageLink(document.getElementById("search-next"), offset + PAGE);
  document.getElementById("search-page-no").textContent = `Page ${Math.floor(offset / PAGE) + 1}`;
}
main();
