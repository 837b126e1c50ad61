// Modal dialogs built on <dialog> (focus is trapped, Escape cancels, focus returns after).
import { api, describe, el, showError } from "./api.js";

function open(title, body, buttons) {
  return new Promise((resolve) => {
    const error = el("p", { class: "error", role: "alert", hidden: true });
    const heading = el("h2", { id: "dlg-title" }, title);
    const form = el("form", { method: "dialog", class: "stack" }, ...body, error);
    const row = el("div", { class: "buttons" });
    const dialog = el("dialog", { "aria-labelledby": "dlg-title", class: "dialog" }, heading, form);
    let settled = false;
    const finish = (value) => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    for (const b of buttons) {
      const button = el("button", { type: b.submit ? "submit" : "button", class: b.primary ? "primary" : "" }, b.label);
      button.addEventListener("click", async (event) => {
        event.preventDefault();
        if (b.submit && !form.reportValidity()) return;
        try {
          const value = b.value ? await b.value() : b.result;
          finish(value);
        } catch (err) {
          showError(error, describe(err));
        }
      });
      row.append(button);
    }
    form.append(row);
    dialog.addEventListener("cancel", () => finish(null));
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector("input, select, button");
    if (first) first.focus();
  });
}

/** Ask for a name; resolves to the trimmed text, or null when cancelled. */
export function askName(title, label, value = "", action = "Save") {
  const input = el("input", { id: "dlg-name", required: true, maxlength: 255, value, autocomplete: "off" });
  return open(title, [el("label", { for: "dlg-name" }, label), input], [
    { label: "Cancel", result: null },
    { label: action, primary: true, submit: true, value: async () => input.value.trim() },
  ]);
}

/** Ask to confirm; resolves true or null. */
export function confirmAction(title, text, action = "Delete") {
  return open(title, [el("p", {}, text)], [
    { label: "Cancel", result: null },
    { label: action, primary: true, submit: true, result: true },
  ]);
}

/** A name clash: resolves to "overwrite", "rename", "skip" or null (cancel). ``all``: apply to
 * the remaining clashes too (resolves {policy, all}). */
export function askConflict(name) {
  const box = el("input", { type: "checkbox", id: "dlg-all" });
  return open("This name is taken", [
    el("p", {}, `“${name}” already exists in this folder.`),
    el("div", { class: "check" }, box, el("label", { for: "dlg-all" }, "Do this for every clash of this upload")),
  ], [
    { label: "Skip", value: async () => ({ policy: "skip", all: box.checked }) },
    { label: "Keep both", value: async () => ({ policy: "rename", all: box.checked }) },
    { label: "Replace", primary: true, value: async () => ({ policy: "overwrite", all: box.checked }) },
  ]);
}

/** Pick a folder by browsing the tree; resolves to {id, path} or null. */
export function pickFolder(title, startId = "root") {
  const list = el("ul", { class: "picker", "aria-label": "Folders" });
  const where = el("p", { class: "where", "aria-live": "polite" });
  let current = { id: startId, path: "/" };
  async function load(id) {
    const data = await api("GET", `/api/drive/folders/${encodeURIComponent(id)}?limit=1000`);
    current = { id: data.folder.id, path: data.path };
    where.textContent = `Destination: ${data.path}`;
    list.replaceChildren();
    if (data.folder.parent_id) {
      list.append(el("li", {}, el("button", { type: "button", onclick: () => load(data.folder.parent_id) }, "↑ Parent folder")));
    }
    for (const item of data.items) {
      if (item.kind !== "folder") continue;
      list.append(el("li", {}, el("button", { type: "button", onclick: () => load(item.id) }, el("img", { src: "/static/img/folder.svg", alt: "", width: 18, height: 18 }), item.name)));
    }
  }
  const promise = open(title, [where, list], [
    { label: "Cancel", result: null },
    { label: "Move here", primary: true, value: async () => current },
  ]);
  load(startId).catch((err) => { where.textContent = describe(err); });
  return promise;
}

export { open as openDialog };
