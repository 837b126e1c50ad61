// The account page's app passwords (WebDAV over HTTP Basic): create one named per device (its
// secret is shown once, with a copy button and how to use it), list them, revoke one.
// REST: /api/auth/app-passwords (session cookie + CSRF, through api.js).
import { api, describe, el, formatDate, say, showError } from "./api.js";

const form = document.getElementById("new-app-password");
const rows = document.getElementById("app-passwords");
const empty = document.getElementById("app-passwords-empty");
const errorBox = document.getElementById("app-passwords-error");
const created = document.getElementById("app-password-created");
const userName = document.body.dataset.userName || "";

async function load() {
  try {
    const list = await api("GET", "/api/auth/app-passwords");
    empty.hidden = list.length > 0;
    rows.replaceChildren(...list.map((p) => el("tr", { dataset: { appPassword: p.id } },
      el("th", { scope: "row" }, p.name),
      el("td", {}, formatDate(p.created_at)),
      el("td", {}, p.last_used_at ? formatDate(p.last_used_at) : "Never"),
      el("td", { class: "row-actions" },
        el("button", { type: "button", onclick: () => revoke(p) }, `Revoke ${p.name}`)))));
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

async function revoke(p) {
  try {
    await api("DELETE", `/api/auth/app-passwords/${encodeURIComponent(p.id)}`);
    showError(errorBox, "");
    say(`App password “${p.name}” revoked; devices using it are signed out.`);
    load();
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

/** Show the new secret once: a read-only field, a copy button and one sentence of how-to. */
function reveal(made) {
  const field = el("input", { id: "app-password-secret", readonly: true, value: made.password, class: "link-url", autocomplete: "off", spellcheck: "false" });
  const copy = el("button", { type: "button", onclick: async () => {
    field.select();
    try { await navigator.clipboard.writeText(made.password); say("App password copied."); } catch { say("Select the password and copy it.", true); }
  } }, "Copy");
  const dav = `${location.origin}/dav/`;
  created.replaceChildren(
    el("label", { for: "app-password-secret" }, `New app password “${made.name}” (shown only now)`),
    field, copy,
    el("p", { class: "hint", id: "app-password-how" },
      "Use it in your file manager or rclone (WebDAV) with your user name ", el("strong", {}, userName),
      " at ", el("code", {}, dav), "."));
  created.hidden = false;
  field.focus();
  field.select();
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = form.name.value.trim();
  if (!name) return;
  try {
    const made = await api("POST", "/api/auth/app-passwords", { json: { name } });
    showError(errorBox, "");
    form.reset();
    reveal(made);
    say(`App password “${made.name}” created. Copy it now: it is not shown again.`);
    load();
  } catch (err) {
    showError(errorBox, describe(err));
  }
});
load();
