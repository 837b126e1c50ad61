// The share dialog of a file: people (read / read-write) with a user picker, the public
// toggle, ownership transfer, signed links (create with an expiry, copy, list, revoke).
import { api, describe, el, say, showError } from "./api.js";
import { createLinkForm, linkSummary, openShareDialog, peopleSection, publicToggle } from "./share_parts.js";

export function openShare(file, onChange) {
  const id = file.id;
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const fail = (err) => showError(error, describe(err));
  const ok = (text) => { showError(error, ""); say(text); };

  // People
  const base = `/api/drive/files/${id}`;
  const { people, form: shareForm, who, listId, load: loadPeople } = peopleSection({
    base, prefix: "", sharedText: (name) => `Shared with ${name}.`, ok, fail,
  });

  // Public
  const pub = publicToggle({
    base, prefix: "", item: file, onText: "Every account can now open this file.", offText: "The file is private again.", ok, fail, onChange,
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
  async function loadLinks() {
    try {
      const rows = await api("GET", `/api/drive/files/${id}/links`);
      links.replaceChildren(...(rows.length ? rows.map((l) => el("li", {},
        el("span", {}, linkSummary(l)),
        el("button", { type: "button", onclick: async () => {
          try { await api("DELETE", `/api/drive/links/${l.id}`); ok("Link revoked."); loadLinks(); } catch (err) { fail(err); }
        } }, "Revoke"))) : [el("li", { class: "hint" }, "No links.")]));
    } catch (err) { fail(err); }
  }
  const { form: linkForm, created } = createLinkForm({
    base, prefix: "", pageUrl: (url) => url, label: "New link (anyone with it can download the file)",
    selectOnCopy: true, ok, fail, reload: loadLinks,
  });

  const dialog = openShareDialog("share-title", `Share “${file.name}”`, [
    error,
    el("h3", {}, "People"), people, shareForm,
    el("h3", {}, "Public"), el("div", { class: "check" }, pub, el("label", { for: "share-public" }, "Every account of this cordvault can open it")),
    el("h3", {}, "Links"), linkForm, created, links,
    el("h3", {}, "Owner"), transferForm,
  ], who);
  loadPeople();
  loadLinks();
}
