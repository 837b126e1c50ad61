// The "Versions" dialog of a file: earlier contents (newest first) with size and dates;
// download one, restore one (after confirming: the current content becomes a version in turn),
// delete one (the file's owner). Routes: /api/drive/files/{id}/versions...
import { api, describe, el, formatDate, formatSize, say, showError } from "./api.js";
import { confirmAction } from "./dialogs.js";

let opened = 0;

/** Open the dialog for ``file`` (as listed: id, name, access); ``onChange`` runs after a
 * restore, ``onClose`` when the dialog closes. */
export function openVersions(file, onChange = () => {}, onClose = () => {}) {
  const n = ++opened;
  const base = `/api/drive/files/${encodeURIComponent(file.id)}/versions`;
  const canWrite = file.access === "owner" || file.access === "write";
  const isOwner = file.access === "owner";
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const list = el("ul", { class: "versions", "aria-label": "Earlier versions" });
  const titleId = `versions-title-${n}`;

  async function load() {
    try {
      const rows = await api("GET", base);
      list.replaceChildren(...(rows.length ? rows.map(renderVersion) : [el("li", { class: "hint" }, "No earlier versions. Replacing the file's content (an upload with the same name, “Replace”) keeps the previous content here.")]));
    } catch (err) {
      showError(error, describe(err));
    }
  }

  function renderVersion(v) {
    const label = `version ${v.content_version}`;
    const actions = [el("a", { class: "button", href: `${base}/${encodeURIComponent(v.id)}/content`, download: file.name, "aria-label": `Download ${label}` }, "Download")];
    if (canWrite) actions.push(el("button", { type: "button", "aria-label": `Restore ${label}`, onclick: () => restore(v) }, "Restore"));
    if (isOwner) actions.push(el("button", { type: "button", "aria-label": `Delete ${label}`, onclick: () => remove(v) }, "Delete"));
    return el("li", { dataset: { version: v.id } },
      el("span", { class: "version-info" },
        el("strong", {}, `Version ${v.content_version}`),
        el("span", {}, ` · ${formatSize(v.size)} · saved ${formatDate(v.modified_at)}`),
        el("span", { class: "hint" }, ` · replaced ${formatDate(v.replaced_at)}`)),
      el("span", { class: "row-actions" }, ...actions));
  }

  async function restore(v) {
    if (!(await confirmAction(`Restore version ${v.content_version}?`, `“${file.name}” gets the content of version ${v.content_version} (${formatSize(v.size)}). Its current content is kept as a version.`, "Restore"))) return;
    try {
      await api("POST", `${base}/${encodeURIComponent(v.id)}/restore`);
      showError(error, "");
      say(`Restored version ${v.content_version} of ${file.name}.`);
      onChange();
      await load();
    } catch (err) {
      showError(error, describe(err));
    }
  }

  async function remove(v) {
    if (!(await confirmAction(`Delete version ${v.content_version}?`, `Version ${v.content_version} of “${file.name}” will be deleted for good. This cannot be undone.`))) return;
    try {
      await api("DELETE", `${base}/${encodeURIComponent(v.id)}`);
      showError(error, "");
      say(`Deleted version ${v.content_version} of ${file.name}.`);
      await load();
    } catch (err) {
      showError(error, describe(err));
    }
  }

  const close = el("button", { type: "button", class: "close", onclick: () => dialog.close() }, "Close");
  const dialog = el("dialog", { class: "dialog wide", "aria-labelledby": titleId },
    el("h2", { id: titleId }, `Versions of “${file.name}”`),
    error, list,
    el("div", { class: "buttons" }, close));
  dialog.addEventListener("close", () => { dialog.remove(); onClose(); });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  load();
}
