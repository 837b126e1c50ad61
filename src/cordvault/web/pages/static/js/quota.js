// The signed-in user's storage quota: a bar and numbers in every element marked
// ``data-quota`` ("full": with what counts; "compact": one line, for the drive page).
// GET /api/drive/quota: used = files (trash included) + old versions + uploads in progress.
import { api, describe, el, formatSize } from "./api.js";

/** ``used of limit`` in words, with the percentage ("unlimited" when there is no limit). */
export function usageText(q) {
  if (q.limit === null || q.limit === undefined) return `${formatSize(q.used)} used (no limit)`;
  const pct = q.limit > 0 ? Math.min(100, Math.round((q.used / q.limit) * 100)) : 100;
  return `${formatSize(q.used)} of ${formatSize(q.limit)} used (${pct} %)`;
}

/** A <meter> for ``q`` (none when unlimited): it turns "high" past 80 %, "full" past 95 %. */
export function usageBar(q, label) {
  if (q.limit === null || q.limit === undefined) return null;
  const max = Math.max(1, q.limit);
  return el("meter", { class: "quota-bar", min: 0, max, low: Math.round(max * 0.8), high: Math.round(max * 0.95), optimum: 0, value: Math.min(q.used, max), "aria-label": label });
}

function breakdown(q) {
  const parts = [`files ${formatSize(q.files)}`];
  if (q.trash) parts[0] += ` (${formatSize(q.trash)} of it in the trash)`;
  parts.push(`old versions ${formatSize(q.versions)}`);
  if (q.reserved) parts.push(`uploads in progress ${formatSize(q.reserved)}`);
  return `Counted: ${parts.join(", ")}.`;
}

async function fill(node) {
  try {
    const q = await api("GET", "/api/drive/quota");
    const full = node.dataset.quota === "full";
    const text = el("p", { class: "quota-text" }, usageText(q));
    node.replaceChildren(text, usageBar(q, "Storage used") || "");
    if (full) {
      node.append(el("p", { class: "hint" }, breakdown(q)));
      const how = q.setting === "default" ? "the server's default quota" : q.setting === "unlimited" ? "no quota (set by an administrator)" : "a quota set by an administrator";
      node.append(el("p", { class: "hint" }, `You have ${how}.${q.available !== null ? ` ${formatSize(q.available)} left.` : ""}`));
    }
    node.dataset.used = String(q.used);
  } catch (err) {
    node.textContent = `Storage use is not available: ${describe(err)}`;
  }
}

export function refreshQuota() {
  for (const node of document.querySelectorAll("[data-quota]")) fill(node);
}

refreshQuota();
document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshQuota(); });
document.addEventListener("cordvault:stored", refreshQuota);
