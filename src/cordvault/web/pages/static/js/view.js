// Opening a file: images, video and audio in the page (the browser seeks with Range requests
// on the content route), text (UTF-8, first 1 MiB) as plain text, PDFs drawn by the vendored
// pdf.js (pdf_view.js). Active types (HTML, SVG, XML) are never rendered: they are offered as downloads.
import { api, describe, el, formatDate, formatSize, showError } from "./api.js";
import { openShare } from "./share.js";
import { openVersions } from "./versions.js";

const TEXT_CAP = 1024 * 1024;
const ACTIVE = /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml)/;
const id = document.getElementById("viewer").dataset.file;
const preview = document.getElementById("preview");
const errorBox = document.getElementById("view-error");

function textLike(mime) {
  return mime.startsWith("text/") || /^application\/(json|x-ndjson|javascript|x-yaml|toml|x-sh)/.test(mime);
}

async function showText(url, size) {
  const res = await fetch(url, { headers: { Range: `bytes=0-${TEXT_CAP - 1}` } });
  if (!res.ok && res.status !== 206) throw new Error("read failed");
  const buf = await res.arrayBuffer();
  const text = new TextDecoder("utf-8", { fatal: false }).decode(buf);
  const pre = el("pre", { class: "text-preview", tabindex: "0", "aria-label": "File content" });
  pre.textContent = text; // text, never markup
  preview.replaceChildren(pre);
  if (size > TEXT_CAP) preview.append(el("p", { class: "hint" }, `Showing the first ${formatSize(TEXT_CAP)} of ${formatSize(size)}.`));
}

async function main() {
  let file;
  try {
    file = await api("GET", `/api/drive/files/${encodeURIComponent(id)}`);
  } catch (err) {
    showError(errorBox, describe(err));
    return;
  }
  document.getElementById("file-name").textContent = file.name;
  document.title = `${file.name} · cordvault`;
  document.getElementById("file-meta").textContent = `${formatSize(file.size)} · ${file.mime_type} · changed ${formatDate(file.updated_at)}${file.public ? " · public" : ""}`;
  const url = `/api/drive/files/${encodeURIComponent(id)}/content`;
  const actions = document.getElementById("file-actions");
  actions.append(
    el("a", { class: "button", href: `/drive?folder=${encodeURIComponent(file.folder_id)}` }, "Back to the folder"),
    el("a", { class: "button primary", href: url, download: file.name }, "Download"));
  if (Number(document.body.dataset.userId) === file.owner_id) {
    actions.append(el("button", { type: "button", onclick: () => openShare(file, () => {}) }, "Share"));
  }
  if (file.access !== "none") {
    actions.append(el("button", { type: "button", onclick: () => {
      let changed = false; // a restored version: show the new content once the dialog closes
      openVersions(file, () => { changed = true; }, () => { if (changed) location.reload(); });
    } }, "Versions"));
  }
  if (file.access === "none") {
    showError(errorBox, "You can see this file's name but not its content (it was not shared with you).");
    return;
  }
  const mime = file.mime_type;
  const inline = `${url}?inline=1`;
  try {
    if (ACTIVE.test(mime)) {
      preview.append(el("p", { class: "hint" }, "This type of file is not shown in the page (it could run code). Download it to open it."));
    } else if (mime.startsWith("image/")) {
      preview.append(el("img", { src: inline, alt: file.name, class: "media" }));
    } else if (mime.startsWith("video/")) {
      preview.append(el("video", { src: inline, controls: true, preload: "metadata", class: "media", "aria-label": file.name }));
    } else if (mime.startsWith("audio/")) {
      preview.append(el("audio", { src: inline, controls: true, preload: "metadata", "aria-label": file.name }));
    } else if (textLike(mime)) {
      await showText(url, file.size);
    } else if (mime === "application/pdf") {
      // pdf.js is loaded only for PDFs (a dynamic import, with the page's cache buster).
      const { showPdf } = await import(`./pdf_view.js${new URL(import.meta.url).search}`);
      await showPdf(preview, inline, file.name);
    } else {
      preview.append(el("p", { class: "hint" }, "No preview for this type of file. Download it to open it."));
    }
  } catch (err) {
    showError(errorBox, describe(err));
  }
}
main();
