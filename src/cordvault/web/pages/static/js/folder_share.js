// The share dialog of a FOLDER (everything below it, files added later included): people
// (read / read-write) with a user picker, the public toggle, and folder links (create with an
// expiry, copy, list, revoke). A folder link opens the account-less listing page /fl/TOKEN.
// REST: /api/drive/folders/{id}/shares, PATCH /api/drive/folders/{id} {public},
// /api/drive/folders/{id}/links, DELETE /api/drive/folder-links/{id}.
import { api, describe, el, say, showError } from "./api.js";
import { copyButton, createLinkForm, linkSummary, openShareDialog, peopleSection, publicToggle } from "./share_parts.js";

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
  const base = `/api/drive/folders/${id}`;
  const { people, form: shareForm, who, load: loadPeople } = peopleSection({
    base, prefix: "folder-", sharedText: (name) => `Shared ${folder.name} with ${name}.`, ok, fail,
  });

  // Public
  const pub = publicToggle({
    base, prefix: "folder-", item: folder, onText: "Every account can now open this folder and everything in it.",
    offText: "The folder is private again.", ok, fail, onChange,
  });

  // Links
  const links = el("ul", { class: "links", "aria-label": "Folder links" });
  async function loadLinks() {
    try {
      const rows = await api("GET", `/api/drive/folders/${id}/links`);
      links.replaceChildren(...(rows.length ? rows.map((l, i) => el("li", {},
        el("span", {}, linkSummary(l)),
        el("span", { class: "row-actions" },
          copyButton(linkPage(l.url), `Copy link ${i + 1}`),
          el("button", { type: "button", onclick: async () => {
            try { await api("DELETE", `/api/drive/folder-links/${encodeURIComponent(l.id)}`); ok("Link revoked."); loadLinks(); } catch (err) { fail(err); }
          } }, `Revoke link ${i + 1}`)))) : [el("li", { class: "hint" }, "No links.")]));
    } catch (err) { fail(err); }
  }
  const { form: linkForm, created } = createLinkForm({
    base, prefix: "folder-", pageUrl: linkPage, label: "New link (anyone with it can browse the folder and download its files)",
    selectOnCopy: false, ok, fail, reload: loadLinks,
  });

  openShareDialog("folder-share-title", `Share the folder “${folder.name}”`, [
    el("p", { class: "hint" }, "Access given here applies to everything in the folder, including what is added later."),
    error,
    el("h3", {}, "People"), people, shareForm,
    el("h3", {}, "Public"), el("div", { class: "check" }, pub, el("label", { for: "folder-share-public" }, "Every account of this cordvault can open this folder")),
    el("h3", {}, "Links"), linkForm, created, links,
  ], who);
  loadPeople();
  loadLinks();
}
