// The trash page: the signed-in user's deleted files and folders (newest first, pages of 100),
// restore (one or several; name clashes ask, see restore.js), delete forever, empty the trash.
import { api, describe, el, formatDate, formatSize, say, showError } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { restoreEntries, restoreSummary, trashError } from "./restore.js";

const PAGE = 100;
const list = document.getElementById("trash-entries");
const errorBox = document.getElementById("trash-error");
const more = document.getElementById("trash-more");
const selectAll = document.getElementById("trash-select-all");
const buttons = {
  restore: document.getElementById("restore-selected"),
  purge: document.getElementById("purge-selected"),
  empty: document.getElementById("empty-trash"),
};
const state = { items: [], total: 0, selected: new Map() };

function sizeText(entry) {
  if (entry.kind === "folder") return `${entry.files} file${entry.files === 1 ? "" : "s"}, ${formatSize(entry.size)}`;
  return formatSize(entry.size);
}

function renderEntry(entry) {
  const check = el("input", { type: "checkbox", class: "pick", id: `pick-${entry.id}`, "aria-label": `Select ${entry.name}` });
  check.checked = state.selected.has(entry.id);
  check.addEventListener("change", () => {
    if (check.checked) state.selected.set(entry.id, entry);
    else state.selected.delete(entry.id);
    updateSelection();
  });
  const purgeText = entry.purge_at ? `Kept until ${formatDate(entry.purge_at)}` : "Kept until you delete it";
  return el("li", { class: "trash-entry", dataset: { id: entry.id, kind: entry.kind } },
    check,
    el("span", { class: "icon" }, el("img", { src: `/static/img/${entry.kind === "folder" ? "folder" : "file"}.svg`, alt: entry.kind === "folder" ? "Folder" : "File", width: 22, height: 22 })),
    el("span", { class: "trash-label" },
      el("span", { class: "name" }, entry.name),
      el("span", { class: "trash-path" }, `Was at ${entry.path}`)),
    el("span", { class: "size" }, sizeText(entry)),
    el("span", { class: "trash-dates" },
      el("span", {}, `Deleted ${formatDate(entry.trashed_at)}`),
      el("span", { class: "hint" }, purgeText)),
    el("span", { class: "row-actions" },
      el("button", { type: "button", "aria-label": `Restore ${entry.name}`, onclick: () => restore([entry]) }, "Restore"),
      el("button", { type: "button", "aria-label": `Delete forever: ${entry.name}`, onclick: () => purge([entry]) }, "Delete forever")));
}

async function load({ append = false } = {}) {
  const offset = append ? state.items.length : 0;
  try {
    const page = await api("GET", `/api/drive/trash?limit=${PAGE}&offset=${offset}`);
    if (!append) { state.items = []; list.replaceChildren(); }
    state.items.push(...page.items);
    state.total = page.total;
    list.append(...page.items.map(renderEntry));
    const known = new Set(state.items.map((e) => e.id));
    for (const id of [...state.selected.keys()]) if (!known.has(id)) state.selected.delete(id);
    showError(errorBox, "");
  } catch (err) {
    showError(errorBox, `Could not list the trash: ${describe(err)}`);
  }
  document.getElementById("trash-empty").hidden = state.total > 0;
  document.getElementById("trash-count").textContent = state.total ? `${state.total} item${state.total === 1 ? "" : "s"} in the trash${state.items.length < state.total ? ` (${state.items.length} shown)` : ""}` : "";
  more.hidden = state.items.length >= state.total;
  buttons.empty.disabled = state.total === 0;
  updateSelection();
}

function updateSelection() {
  const n = state.selected.size;
  buttons.restore.disabled = n === 0;
  buttons.purge.disabled = n === 0;
  buttons.restore.textContent = n ? `Restore selected (${n})` : "Restore selected";
  buttons.purge.textContent = n ? `Delete selected forever (${n})` : "Delete selected forever";
  selectAll.checked = n > 0 && state.items.every((e) => state.selected.has(e.id));
  for (const box of list.querySelectorAll(".pick")) box.checked = state.selected.has(box.closest("li").dataset.id);
}

/** After an action re-drew the list, keep keyboard focus on the page (not lost on <body>). */
function refocus() {
  if (!document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected) {
    document.getElementById("trash-title").focus();
  }
}

function what(entries) {
  return entries.length === 1 ? `“${entries[0].name}”` : `${entries.length} items`;
}

async function restore(entries) {
  const result = await restoreEntries(entries);
  for (const { entry } of result.restored) state.selected.delete(entry.id);
  say(restoreSummary(result), result.failed.length > 0);
  await load();
  if (result.failed.length) showError(errorBox, result.failed.map((f) => f.message).join(" "));
  refocus();
}

async function purge(entries) {
  if (!(await confirmAction(`Delete ${what(entries)} forever?`, `${what(entries)} will be deleted for good, with ${entries.length === 1 && entries[0].kind === "file" ? "its earlier versions" : "everything inside and every earlier version"}. This cannot be undone.`, "Delete forever"))) return;
  const failures = [];
  for (const entry of entries) {
    try {
      await api("DELETE", `/api/drive/trash/${encodeURIComponent(entry.id)}`);
      state.selected.delete(entry.id);
    } catch (err) {
      failures.push(`${entry.name}: ${trashError(err)}`);
    }
  }
  if (failures.length) say(`Not deleted: ${failures.join(" ")}`, true);
  else say(`Deleted ${what(entries)} forever.`);
  await load();
  if (failures.length) showError(errorBox, `Not deleted: ${failures.join(" ")}`);
  refocus();
}

buttons.restore.addEventListener("click", () => restore([...state.selected.values()]));
buttons.purge.addEventListener("click", () => purge([...state.selected.values()]));
buttons.empty.addEventListener("click", async () => {
  if (!(await confirmAction("Empty the trash?", `Everything in the trash (${state.total} item${state.total === 1 ? "" : "s"}) will be deleted for good. This cannot be undone.`, "Empty trash"))) return;
  try {
    await api("DELETE", "/api/drive/trash");
    state.selected.clear();
    say("The trash is empty.");
  } catch (err) {
    say(`Could not empty the trash: ${describe(err)}`, true);
  }
  await load();
  refocus();
});
selectAll.addEventListener("change", () => {
  for (const entry of state.items) {
    if (selectAll.checked) state.selected.set(entry.id, entry);
    else state.selected.delete(entry.id);
  }
  updateSelection();
});
more.addEventListener("click", () => load({ append: true }));
load();
