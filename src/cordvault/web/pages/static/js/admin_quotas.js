// The administrators' storage section: every account's usage against its quota (a bar), and
// setting an account's quota (a size in MB / GB / TB), making it unlimited or back to the
// server's default. REST: GET /api/drive/quotas, PUT /api/drive/quotas/{user}.
import { api, describe, el, formatSize, say, showError } from "./api.js";
import { usageBar, usageText } from "./quota.js";

const tbody = document.getElementById("quotas");
const errorBox = document.getElementById("quotas-error");
const UNITS = [["1048576", "MB"], ["1073741824", "GB"], ["1099511627776", "TB"]];

function describeLimit(q) {
  if (q.setting === "unlimited") return "Unlimited";
  const size = q.limit === null ? "unlimited" : formatSize(q.limit);
  return q.setting === "default" ? `Default (${size})` : size;
}

async function setQuota(q, limit) {
  try {
    const out = await api("PUT", `/api/drive/quotas/${encodeURIComponent(q.user)}`, { json: { limit } });
    showError(errorBox, "");
    say(`Quota of ${out.user}: ${describeLimit(out)}.`);
    load();
  } catch (err) {
    showError(errorBox, `${q.user}: ${describe(err)}`);
  }
}

function row(q) {
  const amountId = `quota-amount-${q.user_id}`;
  const unitId = `quota-unit-${q.user_id}`;
  const amount = el("input", { id: amountId, type: "number", min: "0", step: "any", required: true, inputmode: "decimal" });
  const unit = el("select", { id: unitId, "aria-label": `Unit of the quota of ${q.user}` }, ...UNITS.map(([v, t]) => el("option", { value: v, selected: t === "GB" }, t)));
  const form = el("form", { class: "quota-form" },
    el("label", { for: amountId, class: "visually-hidden" }, `New quota of ${q.user}`), amount, unit,
    el("button", { type: "submit" }, `Set quota of ${q.user}`),
    el("button", { type: "button", onclick: () => setQuota(q, "unlimited") }, `Unlimited for ${q.user}`),
    el("button", { type: "button", onclick: () => setQuota(q, "default") }, `Use default for ${q.user}`));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const bytes = Math.round(Number(amount.value) * Number(unit.value));
    if (!Number.isFinite(bytes) || bytes < 0) { showError(errorBox, `${q.user}: enter a size of 0 or more.`); return; }
    setQuota(q, bytes);
  });
  return el("tr", { dataset: { quotaUser: q.user } },
    el("th", { scope: "row" }, q.user),
    el("td", {}, el("span", {}, usageText(q)), usageBar(q, `Storage used by ${q.user}`) || ""),
    el("td", {}, describeLimit(q)),
    el("td", {}, form));
}

async function load() {
  try {
    const all = await api("GET", "/api/drive/quotas");
    tbody.replaceChildren(...all.map(row));
  } catch (err) {
    showError(errorBox, describe(err));
  }
}
load();
