// The account page's security sections: one's own sessions (revoke one, or all others) and
// one's own security log. Reads and writes through the REST API (session cookie + CSRF).
import { api, describe, el, formatDate, say, showError } from "./api.js";

const errorBox = document.getElementById("sessions-error");
const sessionRows = document.getElementById("sessions");
const logRows = document.getElementById("security-log");

function client(s) {
  const where = s.last_client_address || s.client_address || "unknown";
  return s.user_agent ? `${where} (${s.user_agent})` : where;
}

async function revoke(path, done) {
  try {
    await api("DELETE", path);
    say(done);
    showError(errorBox, "");
    loadSessions();
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

async function loadSessions() {
  try {
    const sessions = await api("GET", "/api/auth/sessions");
    sessionRows.replaceChildren(...sessions.map((s, i) => {
      const label = `session ${i + 1}, created ${formatDate(s.created_at)}`;
      const action = s.current
        ? el("td", {}, "")
        : el("td", { class: "row-actions" },
          el("button", { type: "button", onclick: () => revoke(`/api/auth/sessions/${encodeURIComponent(s.id)}`, "Session signed out.") }, `Sign out ${label}`));
      return el("tr", { dataset: { session: s.id, current: String(s.current) } },
        el("th", { scope: "row" }, s.current ? "This session" : `Session ${i + 1}`),
        el("td", {}, formatDate(s.created_at)),
        el("td", {}, formatDate(s.last_used_at)),
        el("td", {}, client(s)),
        action);
    }));
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

async function loadLog() {
  try {
    const events = await api("GET", "/api/auth/security-log?limit=50");
    logRows.replaceChildren(...events.map((e) => el("tr", {},
      el("td", {}, formatDate(e.at)),
      el("td", {}, e.kind),
      el("td", {}, e.client_address || ""),
      el("td", {}, Object.entries(e.detail).map(([k, v]) => `${k}: ${v}`).join(", ")))));
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

document.getElementById("revoke-others").addEventListener("click", () =>
  revoke("/api/auth/sessions?keep_current=true", "Every other session was signed out."));
loadSessions();
loadLog();
