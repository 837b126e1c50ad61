// The parts both share dialogs are built from (a file's: share.js; a folder's: folder_share.js):
// the people section (user picker, share form, list with remove buttons), the public toggle,
// the create-link form, a link's one-line summary, a copy button and the dialog itself. Parts
// take the REST base of what is shared (`/api/drive/files/ID` or `/api/drive/folders/ID`: the
// routes below it have the same shape for both), a prefix for their element ids ("" or
// "folder-", so the ids stay those the pages always had) and the dialog's `ok(text)` /
// `fail(err)` reporters.
import { api, el, formatDate, say } from "./api.js";

const EXPIRIES = [["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"], ["2592000", "30 days"], ["", "Never"]];
let picker = 0;

/**
 * People with access: `{base}/shares` listed with a remove button each, and a form sharing with a
 * user picked from a datalist fed by `/api/auth/users`. `sharedText(name)` is the message after
 * a share. Returns the list, the form, the name input (to focus), the datalist's id (other
 * inputs of the dialog may use the same suggestions) and `load()` (fills the list).
 */
export function peopleSection({ base, prefix, sharedText, ok, fail }) {
  const people = el("ul", { class: "shares", "aria-label": "People with access" });
  const listId = `${prefix}users-${++picker}`;
  const who = el("input", { id: `${prefix}share-user`, list: listId, required: true, maxlength: 64, autocomplete: "off" });
  const options = el("datalist", { id: listId });
  const level = el("select", { id: `${prefix}share-access` }, el("option", { value: "read" }, "Can view"), el("option", { value: "write" }, "Can edit"));
  who.addEventListener("input", async () => {
    const q = who.value.trim();
    if (!q) return;
    try {
      const users = await api("GET", `/api/auth/users?q=${encodeURIComponent(q)}&limit=10`);
      options.replaceChildren(...users.map((u) => el("option", { value: u.name })));
    } catch { /* the picker is a convenience */ }
  });
  async function load() {
    try {
      const shares = await api("GET", `${base}/shares`);
      people.replaceChildren(...(shares.length ? shares.map((s) => el("li", {},
        el("span", {}, `${s.user} · ${s.access === "write" ? "can edit" : "can view"}`),
        el("button", { type: "button", onclick: async () => {
          try { await api("DELETE", `${base}/shares/${encodeURIComponent(s.user)}`); ok(`Stopped sharing with ${s.user}.`); load(); } catch (err) { fail(err); }
        } }, `Remove ${s.user}`))) : [el("li", { class: "hint" }, "Not shared with anyone.")]));
    } catch (err) { fail(err); }
  }
  const form = el("form", { class: "inline-form" },
    el("label", { for: `${prefix}share-user` }, "Share with"), who, options,
    el("label", { for: `${prefix}share-access` }, "Access"), level,
    el("button", { type: "submit" }, "Share"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = who.value.trim();
    try {
      await api("PUT", `${base}/shares/${encodeURIComponent(name)}`, { json: { access: level.value } });
      who.value = "";
      ok(sharedText(name));
      load();
    } catch (err) { fail(err); }
  });
  return { people, form, who, listId, load };
}

/**
 * The public checkbox (id `{prefix}share-public`): PATCHes `{base}` with `{public}`, copies the
 * answer onto `item.public`, says `onText` / `offText` and calls `onChange()`; a refusal puts
 * the box back.
 */
export function publicToggle({ base, prefix, item, onText, offText, ok, fail, onChange }) {
  const pub = el("input", { type: "checkbox", id: `${prefix}share-public`, checked: Boolean(item.public) });
  pub.addEventListener("change", async () => {
    try {
      const row = await api("PATCH", base, { json: { public: pub.checked } });
      item.public = row.public;
      ok(row.public ? onText : offText);
      onChange();
    } catch (err) { pub.checked = !pub.checked; fail(err); }
  });
  return pub;
}

/** A button copying `url` to the clipboard (selecting `field` first when given). */
export function copyButton(url, label, field = null) {
  return el("button", { type: "button", onclick: async () => {
    if (field) field.select();
    try { await navigator.clipboard.writeText(url); say("Link copied."); } catch { say("Select the link and copy it.", true); }
  } }, label);
}

/**
 * "Expires after [select] Create link" (ids `{prefix}link-expiry`, `{prefix}link-url`): POSTs
 * `{base}/links`, then shows the new link's `pageUrl(link.url)` in `created` (a read-only field,
 * selected, under `label`, with a Copy button that selects the field first when `selectOnCopy`)
 * and calls `reload()`. Returns the form and the `created` box.
 */
export function createLinkForm({ base, prefix, pageUrl, label, selectOnCopy, ok, fail, reload }) {
  const expiry = el("select", { id: `${prefix}link-expiry` }, ...EXPIRIES.map(([v, t]) => el("option", { value: v, selected: v === "604800" }, t)));
  const created = el("div", { class: "created-link", hidden: true });
  const form = el("form", { class: "inline-form" }, el("label", { for: `${prefix}link-expiry` }, "Expires after"), expiry, el("button", { type: "submit" }, "Create link"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const body = expiry.value ? { expires_in: Number(expiry.value) } : {};
      const link = await api("POST", `${base}/links`, { json: body });
      const url = pageUrl(link.url);
      const field = el("input", { id: `${prefix}link-url`, readonly: true, value: url, class: "link-url" });
      created.replaceChildren(el("label", { for: `${prefix}link-url` }, label), field, copyButton(url, "Copy", selectOnCopy ? field : null));
      created.hidden = false;
      field.focus();
      field.select();
      ok("Link created.");
      reload();
    } catch (err) { fail(err); }
  });
  return { form, created };
}

/** A link row's text: when it was created and when it expires. */
export function linkSummary(link) {
  return `Created ${formatDate(link.created_at)} · ${link.expires_at ? `expires ${formatDate(link.expires_at)}` : "never expires"}`;
}

/**
 * Open a share dialog: `title` (an h2 with id `titleId`, which labels the dialog), then `parts`,
 * then a Close button; the dialog leaves the page once closed. Focuses `focus`; returns the
 * dialog.
 */
export function openShareDialog(titleId, title, parts, focus) {
  const close = el("button", { type: "button", class: "close", onclick: () => dialog.close() }, "Close");
  const dialog = el("dialog", { class: "dialog wide", "aria-labelledby": titleId },
    el("h2", { id: titleId }, title), ...parts, el("div", { class: "buttons" }, close));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  focus.focus();
  return dialog;
}
