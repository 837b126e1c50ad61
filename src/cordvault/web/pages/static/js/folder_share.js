// The share dialog of a FOLDER (everything below it, files added later included): people
// (read / read-write) with a user picker, the public toggle, and folder links (create with an
// expiry, copy, list, revoke). A folder link opens the account-less listing page /fl/TOKEN.
// REST: /api/drive/folders/{id}/shares, PATCH /api/drive/folders/{id} {public},
// /api/drive/folders/{id}/links, DELETE /api/drive/folder-links/{id}.
import { api, describe, el, formatDate, say, showError } from "./api.js";

const EXPIRIES = [["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"], ["2592000", "30 days"], ["", "Never"]];
let picker = 0;

/** The browser page of a folder link (the API answers with its JSON route). */
export function linkPage(url) {
  return url.replace("/api/drive/fl/", "/fl/");
}

export function openFolderShare(folder, onChange) {
  const id = encodeURIComponent(folder.id);
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const fail = (err) => showError(error, describe(err));
  const ok = (text) => { showError(error, ""); say(text); };

  // People
  const people = el("ul", { class: "shares", "aria-label": "People with access" });
  const listId = `folder-users-${++picker}`;
  const who = el("input", { id: "folder-share-user", list: listId, required: true, maxlength: 64, autocomplete: "off" });
  const options = el("datalist", { id: listId });
  const level = el("select", { id: "folder-share-access" }, el("option", { value: "read" }, "Can view"), el("option", { value: "write" }, "Can edit"));
  who.addEventListener("input", async () => {
    const q = who.value.trim();
    if (!q) return;
    try {
      const users = await api("GET", `/api/auth/users?q=${encodeURIComponent(q)}&limit=10`);
      options.replaceChildren(...users.map((u) => el("option", { value: u.name })));
    } catch { /* the picker is a convenience */ }
  });
  async function loadPeople() {
    try {
      const shares = await api("GET", `/api/drive/folders/${id}/shares`);
      people.replaceChildren(...(shares.length ? shares.map((s) => el("li", {},
        el("span", {}, `${s.user} · ${s.access === "write" ? "can edit" : "can view"}`),
        el("button", { type: "button", onclick: async () => {
          try { await api("DELETE", `/api/drive/folders/${id}/shares/${encodeURIComponent(s.user)}`); ok(`Stopped sharing with ${s.user}.`); loadPeople(); } catch (err) { fail(err); }
        } }, `Remove ${s.user}`))) : [el("li", { class: "hint" }, "Not shared with anyone.")]));
    } catch (err) { fail(err); }
  }
  const shareForm = el("form", { class: "inline-form" },
    el("label", { for: "folder-share-user" }, "Share with"), who, options,
    el("label", { for: "folder-share-access" }, "Access"), level,
    el("button", { type: "submit" }, "Share"));
  shareForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = who.value.trim();
    try {
      await api("PUT", `/api/drive/folders/${id}/shares/${encodeURIComponent(name)}`, { json: { access: level.value } });
      who.value = "";
      ok(`Shared ${folder.name} with ${name}.`);
      loadPeople();
    } catch (err) { fail(err); }
  });

  // Public
  const pub = el("input", { type: "checkbox", id: "folder-share-public", checked: Boolean(folder.public) });
  pub.addEventListener("change", async () => {
    try {
      const row = await api("PATCH", `/api/drive/folders/${id}`, { json: { public: pub.checked } });
      folder.public = row.public;
      ok(row.public ? "Every account can now open this folder and everything in it." : "The folder is private again.");
      onChange();
    } catch (err) { pub.checked = !pub.checked; fail(err); }
  });

  // Links
  const links = el("ul", { class: "links", "aria-label": "Folder links" });
  const expiry = el("select", { id: "folder-link-expiry" }, ...EXPIRIES.map(([v, t]) => el("option", { value: v, selected: v === "604800" }, t)));
  const created = el("div", { class: "created-link", hidden: true });
  function copyButton(url, label) {
    return el("button", { type: "button", onclick: async () => {
      try { await navigator.clipboard.writeText(url); say("Link copied."); } catch { say("Select the link and copy it.", true); }
    } }, label);
  }
  async function loadLinks() {
    try {
      const rows = await api("GET", `/api/drive/folders/${id}/links`);
      links.replaceChildren(...(rows.length ? rows.map((l, i) => el("li", {},
        el("span", {}, `Created ${formatDate(l.created_at)} · ${l.expires_at ? `expires ${formatDate(l.expires_at)}` : "never expires"}`),
        el("span", { class: "row-actions" },
          copyButton(linkPage(l.url), `Copy link ${i + 1}`),
          el("button", { type: "button", onclick: async () => {
            try { await api("DELETE", `/api/drive/folder-links/${encodeURIComponent(l.id)}`); ok("Link revoked."); loadLinks(); } catch (err) { fail(err); }
          } }, `Revoke link ${i + 1}`)))) : [el("li", { class: "hint" }, "No links.")]));
    } catch (err) { fail(err); }
  }
  const linkForm = el("form", { class: "inline-form" }, el("label", { for: "folder-link-expiry" }, "Expires after"), expiry, el("button", { type: "submit" }, "Create link"));
  linkForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const body = expiry.value ? { expires_in: Number(expiry.value) } : {};
      const link = await api("POST", `/api/drive/folders/${id}/links`, { json: body });
      const url = linkPage(link.url);
      const field = el("input", { id: "folder-link-url", readonly: true, value: url, class: "link-url" });
      created.replaceChildren(el("label", { for: "folder-link-url" }, "New link (anyone with it can browse the folder and download its files)"), field, copyButton(url, "Copy"));
      created.hidden = false;
      field.focus();
      field.select();
      ok("Link created.");
      loadLinks();
    } catch (err) { fail(err); }
  });

  const close = el("button", { type: "button", class: "close", onclick: () => dialog.close() }, "Close");
  const dialog = el("dialog", { class: "dialog wide", "aria-labelledby": "folder-share-title" },
    el("h2", { id: "folder-share-title" }, `Share the folder “${folder.name}”`),
    el("p", { class: "hint" }, "Access given here applies to everything in the folder, including what is added later."),
    error,
    el("h3", {}, "People"), people, shareForm,
    el("h3", {}, "Public"), el("div", { class: "check" }, pub, el("label", { for: "folder-share-public" }, "Every account of this cordvault can open this folder")),
    el("h3", {}, "Links"), linkForm, created, links,
    el("div", { class: "buttons" }, close));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  who.focus();
  loadPeople();
  loadLinks();
}
