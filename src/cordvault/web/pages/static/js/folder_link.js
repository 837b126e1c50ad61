// The page of a folder link (/fl/TOKEN, no account needed): the linked folder's entries, its
// subfolders (?path=/a/b, relative to the linked folder), a download per file and a zip of the
// folder shown. Reads the account-less routes /api/drive/fl/TOKEN[...]: they check the token,
// its expiry and revocation, and the access of the link's creator.
import { api, describe, el, formatDate, formatSize, showError } from "./api.js";

const PAGE = 200;
const root = document.getElementById("folder-link");
const token = root.dataset.token;
const base = `/api/drive/fl/${encodeURIComponent(token)}`;
const list = document.getElementById("fl-entries");
const errorBox = document.getElementById("fl-error");
const more = document.getElementById("fl-more");
const path = normalise(new URLSearchParams(location.search).get("path") || "/");
let loaded = 0;

function normalise(p) {
  return "/" + p.split("/").filter((s) => s && s !== "." && s !== "..").join("/");
}

function pageUrl(p) {
  return `/fl/${encodeURIComponent(token)}${p === "/" ? "" : `?path=${encodeURIComponent(p)}`}`;
}

function child(name) {
  return path === "/" ? `/${name}` : `${path}/${name}`;
}

function crumbs(rootName) {
  const parts = path.split("/").filter(Boolean);
  const all = [{ name: rootName, path: "/" }, ...parts.map((p, i) => ({ name: p, path: "/" + parts.slice(0, i + 1).join("/") }))];
  document.getElementById("fl-crumbs").replaceChildren(...all.map((c, i) => el("li", {},
    el("a", { href: pageUrl(c.path), "aria-current": i === all.length - 1 ? "page" : null }, c.name))));
}

function row(item) {
  const isFolder = item.kind === "folder";
  const href = isFolder ? pageUrl(child(item.name)) : `${base}/files/${encodeURIComponent(item.id)}`;
  return el("li", { class: `entry ${isFolder ? "is-folder" : "is-file"}` },
    el("span", {}),
    el("span", { class: "icon" }, el("img", { src: `/static/img/${isFolder ? "folder" : "file"}.svg`, alt: "", width: 22, height: 22 })),
    el("span", { class: "label" }, el("a", { class: "name", href, download: isFolder ? null : item.name }, item.name)),
    el("span", { class: "size" }, isFolder ? "—" : formatSize(item.size)),
    el("span", { class: "date" }, formatDate(item.updated_at)),
    isFolder ? el("span", {}) : el("a", { class: "button", href, download: item.name, "aria-label": `Download ${item.name}` }, "⤓"));
}

async function load() {
  more.hidden = true;
  try {
    const params = new URLSearchParams({ path, limit: String(PAGE), offset: String(loaded) });
    const data = await api("GET", `${base}?${params}`);
    if (!loaded) {
      const rootName = path === "/" ? data.folder.name : null;
      const title = path === "/" ? data.folder.name : path.split("/").pop();
      document.getElementById("fl-title").textContent = title;
      document.title = `${title} · cordvault`;
      crumbs(rootName || sessionStorage.getItem(`cordvault.fl.${token}`) || "Shared folder");
      if (rootName) sessionStorage.setItem(`cordvault.fl.${token}`, rootName);
      const zip = document.getElementById("fl-zip");
      zip.href = `${base}/zip${path === "/" ? "" : `?path=${encodeURIComponent(path)}`}`;
      zip.setAttribute("download", `${title}.zip`);
      zip.hidden = false;
    }
    list.append(...data.items.map(row));
    loaded += data.items.length;
    document.getElementById("fl-empty").hidden = data.total > 0;
    document.getElementById("fl-count").textContent = `${data.total} item${data.total === 1 ? "" : "s"}${loaded < data.total ? ` (${loaded} shown)` : ""}`;
    more.hidden = loaded >= data.total;
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

more.addEventListener("click", load);
load();
