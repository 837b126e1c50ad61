// Restoring trash entries (the trash page, and Undo after a delete in the file browser).
// Each entry goes back where it was (POST /api/drive/trash/{id}/restore); a taken name answers
// 409 NAME_CONFLICT and the user chooses: replace (a folder in the way is merged into instead),
// keep both (the restored one gets a free name) or skip — the API's overwrite policies.
import { api, ApiError, describe, el } from "./api.js";
import { openDialog } from "./dialogs.js";

/** Ask about a name clash; resolves {policy, all} or null (stop restoring). */
function askRestoreConflict(entry, several) {
  const box = el("input", { type: "checkbox", id: "dlg-restore-all" });
  const folder = entry.kind === "folder";
  return openDialog("This name is taken", [
    el("p", {}, `Something named “${entry.name}” is already at ${entry.path}.`),
    folder ? el("p", { class: "hint" }, "Merge puts the restored folder's contents into the existing folder.") : null,
    several ? el("div", { class: "check" }, box, el("label", { for: "dlg-restore-all" }, "Do this for every clash of this restore")) : null,
  ].filter(Boolean), [
    { label: "Cancel", result: null },
    { label: "Skip", value: async () => ({ policy: "skip", all: box.checked }) },
    { label: "Keep both", value: async () => ({ policy: "rename", all: box.checked }) },
    { label: folder ? "Merge" : "Replace", primary: true, value: async () => ({ policy: "overwrite", all: box.checked }) },
  ]);
}

/** A sentence for a failed restore or purge of a trash entry. */
export function trashError(err) {
  if (err instanceof ApiError && err.code === "NOT_FOUND") return "It is not in the trash any more (restored or deleted forever already).";
  return describe(err);
}

/**
 * Restore ``entries`` (trash entries as listed by GET /api/drive/trash) one after the other.
 * Resolves {restored: [{entry, out}], skipped: [entry], failed: [{entry, message}], stopped}
 * (``stopped``: the user cancelled at a clash; the entries after it were left in the trash).
 */
export async function restoreEntries(entries) {
  const result = { restored: [], skipped: [], failed: [], stopped: false };
  let always = null;
  for (const entry of entries) {
    let policy = "fail";
    for (;;) {
      try {
        const out = await api("POST", `/api/drive/trash/${encodeURIComponent(entry.id)}/restore`, { json: { on_conflict: policy } });
        if (out.skipped) result.skipped.push(entry);
        else result.restored.push({ entry, out });
        break;
      } catch (err) {
        if (err instanceof ApiError && err.code === "NAME_CONFLICT" && policy === "fail") {
          const choice = always || (await askRestoreConflict(entry, entries.length > 1));
          if (!choice) { result.stopped = true; return result; }
          if (choice.all) always = choice;
          policy = choice.policy;
          continue;
        }
        result.failed.push({ entry, message: `${entry.name}: ${trashError(err)}` });
        break;
      }
    }
  }
  return result;
}

/** One sentence summing up a restore. */
export function restoreSummary(result) {
  const parts = [];
  const n = result.restored.length;
  if (n === 1) parts.push(`Restored ${result.restored[0].out.name}.`);
  else if (n) parts.push(`Restored ${n} items.`);
  if (result.skipped.length) parts.push(`Skipped ${result.skipped.map((e) => e.name).join(", ")}.`);
  if (result.failed.length) parts.push(`Not restored: ${result.failed.map((f) => f.message).join(" ")}`);
  if (result.stopped) parts.push("Restore stopped.");
  return parts.join(" ") || "Nothing was restored.";
}

/**
 * After deleting listing ``items`` into the trash: a message (a live region) with an Undo
 * button that finds their trash entries (by item id, among the newest) and restores them.
 * It stays until dismissed, replaced by the next one, or used; ``onDone`` runs after a restore.
 */
export function offerUndo(text, items, onDone = () => {}) {
  document.querySelector(".undo-bar")?.remove();
  const ids = new Set(items.map((it) => it.id));
  const message = el("span", {}, text);
  const undo = el("button", { type: "button" }, "Undo");
  const dismiss = el("button", { type: "button", "aria-label": "Dismiss" }, "✕");
  const bar = el("div", { class: "undo-bar", role: "status" }, message, undo, dismiss);
  dismiss.addEventListener("click", () => bar.remove());
  undo.addEventListener("click", async () => {
    undo.disabled = true;
    try {
      const page = await api("GET", `/api/drive/trash?limit=${Math.min(1000, ids.size + 100)}`);
      const entries = page.items.filter((e) => ids.has(e.item_id));
      if (!entries.length) throw new ApiError(404, "NOT_FOUND", "not in the trash");
      const result = await restoreEntries(entries);
      message.textContent = restoreSummary(result);
      bar.classList.toggle("is-error", result.failed.length > 0);
      undo.remove();
      onDone();
    } catch (err) {
      message.textContent = `Could not undo: ${trashError(err)}`;
      bar.classList.add("is-error");
      undo.disabled = false;
    }
  });
  document.body.append(bar);
  return bar;
}
