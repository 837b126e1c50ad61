// The share dialog of a file: people (read / read-write) with a user picker, the public
// toggle, ownership transfer, signed links (create with an expiry, copy, list, revoke).
import { api, describe, el, formatDate, say, showError } from "./api.js";

const EXPIRIES = [["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"], ["2592000", "30 days"], ["", "Never"]];
let picker = 0;

export function openShare(file, onChange) {
  const id = file.id;
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const fail = (err) => showError(error, describe(err));
  const ok = (text) => { showError(error, ""); say(text); };

  // People
  const people = el("ul", { class: "shares", "aria-label": "People with access" });
  const listId = `users-${++picker}`;
  const who = el("input", { id: "share-user", list: listId, required: true, maxlength: 64, autocomplete: "off" });
  const options = el("datalist", { id: listId });
  const level = el("select", { id: "share-access" }, el("option", { value: "read" }, "Can view"), el("option", { value: "write" }, "Can edit"));
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
      const shares = await api("GET", `/api/drive/files/${id}/shares`);
      people.replaceChildren(...(shares.length ? shares.map((s) => el("li", {},
        el("span", {}, `${s.user} · ${s.access === "write" ? "can edit" : "can view"}`),
        el("button", { type: "button", onclick: async () => {
          try { await api("DELETE", `/api/drive/files/${id}/shares/${encodeURIComponent(s.user)}`); ok(`Stopped sharing with ${s.user}.`); loadPeople(); } catch (err) { fail(err); }
        } }, `Remove ${s.user}`))) : [el("li", { class: "hint" }, "Not shared with anyone.")]));
    } catch (err) { fail(err); }
  }
  const shareForm = el("form", { class: "inline-form" },
    el("label", { for: "share-user" }, "Share with"), who, options,
    el("label", { for: "share-access" }, "Access"), level,
    el("button", { type: "submit" }, "Share"));
  shareForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = who.value.trim();
    try {
      await api("PUT", `/api/drive/files/${id}/shares/${encodeURIComponent(name)}`, { json: { access: level.value } });
      who.value = "";
      ok(`Shared with ${name}.`);
      loadPeople();
    } catch (err) { fail(err); }
  });

  // Public
  const pub = el("input", { type: "checkbox", id: "share-public", checked: file.public });
  pub.addEventListener("change", async () => {
    try {
      const row = await api("PATCH", `/api/drive/files/${id}`, { json: { public: pub.checked } });
      file.public = row.public;
      ok(row.public ? "Every account can now open this file." : "The file is private again.");
      onChange();
    } catch (err) { pub.checked = !pub.checked; fail(err); }
  });

  // Transfer
  const newOwner = el("input", { id: "share-owner", list: listId, maxlength: 64, autocomplete: "off", required: true });
  const transferForm = el("form", { class: "inline-form" }, el("label", { for: "share-owner" }, "New owner"), newOwner, el("button", { type: "submit" }, "Transfer"));
  transferForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", `/api/drive/files/${id}/owner`, { json: { user: newOwner.value.trim() } });
      ok(`${newOwner.value.trim()} now owns ${file.name}.`);
      onChange();
      dialog.close();
    } catch (err) { fail(err); }
  });

  // Links
  const links = el("ul", { class: "links", "aria-label": "Signed links" });
  const expiry = el("select", { id: "link-expiry" }, ...EXPIRIES.map(([v, t]) => el("option", { value: v, selected: v === "604800" }, t)));
  const created = el("div", { class: "created-link", hidden: true });
  async function loadLinks() {
    try {
      const rows = await api("GET", `/api/drive/files/${id}/links`);
      links.replaceChildren(...(rows.length ? rows.map((l) => el("li", {},
        el("span", {}, `Created ${formatDate(l.created_at)} · ${l.expires_at ? `expires ${formatDate(l.expires_at)}` : "never expires"}`),
        el("button", { type: "button", onclick: async () => {
          try { await api("DELETE", `/api/drive/links/${l.id}`); ok("Link revoked."); loadLinks(); } catch (err) { fail(err); }
        } }, "Revoke"))) : [el("li", { class: "hint" }, "No links.")]));
    } catch (err) { fail(err); }
  }
  const linkForm = el("form", { class: "inline-form" }, el("label", { for: "link-expiry" }, "Expires after"), expiry, el("button", { type: "submit" }, "Create link"));
  linkForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const body = expiry.value ? { expires_in: Number(expiry.value) } : {};
      const link = await api("POST", `/api/drive/files/${id}/links`, { json: body });
      const field = el("input", { id: "link-url", readonly: true, value: link.url, class: "link-url" });
      const copy = el("button", { type: "button", onclick: async () => {
        field.select();
        try { await navigator.clipboard.writeText(link.url); say("Link copied."); } catch { say("Select the link and copy it.", true); }
      } }, "Copy");
      created.replaceChildren(el("label", { for: "link-url" }, "New link (anyone with it can download the file)"), field, copy);
      created.hidden = false;
      field.focus();
      field.select();
      ok("Link created.");
      loadLinks();
    } catch (err) { fail(err); }
  });

  const close = el("button", { type: "button", class: "close", onclick: () => dialog.close() }, "Close");
  const dialog = el("dialog", { class: "dialog wide", "aria-labelledby": "share-title" },
    el("h2", { id: "share-title" }, `Share “${file.name}”`),
    error,
    el("h3", {}, "People"), people, shareForm,
    el("h3", {}, "Public"), el("div", { class: "check" }, pub, el("label", { for: "share-public" }, "Every account of this cordvault can open it")),
    el("h3", {}, "Links"), linkForm, created, links,
    el("h3", {}, "Owner"), transferForm,
    el("div", { class: "buttons" }, close));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  who.focus();
  loadPeople();
  loadLinks();
}
