// The administrators' page: list, create, disable / enable, promote / demote, reset password,
// clear an account's sign-in delays, sign an account out everywhere; the whole security log.
import { api, describe, el, formatDate, say, showError } from "./api.js";
import { askName } from "./dialogs.js";

const me = Number(document.body.dataset.userId);
const errorBox = document.getElementById("admin-error");
const tbody = document.getElementById("users");
const logRows = document.getElementById("security-log");
let names = new Map();

async function act(method, path, done) {
  try {
    const out = await api(method, path, method === "POST" ? { json: {} } : {});
    say(done(out));
    showError(errorBox, "");
    loadLog();
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

async function loadLog() {
  try {
    const events = await api("GET", "/api/auth/security-log?limit=100");
    const who = (id) => (id == null ? "" : names.get(id) || `#${id}`);
    logRows.replaceChildren(...events.map((e) => el("tr", {},
      el("td", {}, formatDate(e.at)),
      el("td", {}, e.kind),
      el("td", {}, who(e.user_id)),
      el("td", {}, who(e.actor_id)),
      el("td", {}, e.client_address || ""),
      el("td", {}, Object.entries(e.detail).map(([k, v]) => `${k}: ${v}`).join(", ")))));
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

async function change(user, patch, done) {
  try {
    await api("PATCH", `/api/auth/users/${user.id}`, { json: patch });
    say(done);
    load();
  } catch (err) {
    showError(errorBox, `${user.name}: ${describe(err)}`);
  }
}

async function load() {
  try {
    const users = await api("GET", "/api/auth/users?limit=500");
    names = new Map(users.map((u) => [u.id, u.name]));
    tbody.replaceChildren(...users.map((u) => {
      const self = u.id === me;
      const actions = el("td", { class: "row-actions" },
        el("button", { type: "button", disabled: self, onclick: () => change(u, { disabled: !u.disabled }, `${u.name} ${u.disabled ? "enabled" : "disabled"}.`) }, u.disabled ? `Enable ${u.name}` : `Disable ${u.name}`),
        el("button", { type: "button", disabled: self, onclick: () => change(u, { is_admin: !u.is_admin }, `${u.name} is ${u.is_admin ? "no longer" : "now"} an administrator.`) }, u.is_admin ? `Demote ${u.name}` : `Promote ${u.name}`),
        el("button", { type: "button", onclick: async () => {
          const password = await askName(`New password for ${u.name}`, "New password (at least 8 characters)", "", "Reset");
          if (password) change(u, { password }, `Password of ${u.name} reset; their sessions were signed out.`);
        } }, `Reset password of ${u.name}`),
        el("button", { type: "button", onclick: () => act("POST", `/api/auth/users/${u.id}/unlock`, (out) => `Sign-in delays of ${u.name} cleared (${out.cleared}).`) }, `Unlock sign-in of ${u.name}`),
        el("button", { type: "button", onclick: () => act("DELETE", `/api/auth/users/${u.id}/sessions`, (out) => `${u.name} was signed out of ${out.revoked} session(s).`) }, `Sign out ${u.name} everywhere`));
      return el("tr", { dataset: { user: u.name } },
        el("th", { scope: "row" }, u.name),
        el("td", {}, u.is_admin ? "Administrator" : "User"),
        el("td", {}, u.disabled ? "Disabled" : "Active"),
        el("td", {}, formatDate(u.created_at)),
        actions);
    }));
    loadLog();
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

document.getElementById("new-user").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  try {
    await api("POST", "/api/auth/users", { json: { name: form.name.value.trim(), password: form.password.value, is_admin: form.is_admin.checked } });
    say(`Created ${form.name.value.trim()}.`);
    showError(errorBox, "");
    form.reset();
    load();
  } catch (err) {
    showError(errorBox, describe(err));
  }
});
load();
