// The file browser: listing (paged as you scroll), sort, filter, list/grid, selection, folder
// actions, drag-and-drop (files and folders in to upload, entries onto a folder to move).
//
// The listing is virtualised: the loaded entries live in ``state.items`` and the filtered ones
// in ``state.view`` (filtering works on that data, never on the DOM); only the rows near the
// viewport (plus BUFFER_ROWS above and below) are in the list, with padding standing in for the
// others, so a 10,000-entry folder costs the same per frame as a 20-entry one. Every row of
// the list/grid view has one pitch (CSS keeps tiles one height), which maps scroll offsets to
// indexes. Rows carry aria-posinset/aria-setsize so screen readers announce "n of N"; arrow
// keys, Page Up/Down and Home/End move focus between rows (rendering the target first), so the
// keyboard reaches every entry although most are not in the DOM.
import { api, describe, el, formatDate, formatSize, say, showError } from "./api.js";
import { askName, confirmAction, pickFolder } from "./dialogs.js";
import { openFolderShare } from "./folder_share.js";
import { openShare } from "./share.js";
import { offerUndo } from "./restore.js";
import { openVersions } from "./versions.js";
import { droppedEntries, pendingUploads, pickedEntries, Uploader } from "./upload.js";

const PAGE = 200;
const FILTER_PAGE = 1000;
const DRAG_TYPE = "application/x-cordvault-entries";
const BUFFER_ROWS = 15;
const root = document.getElementById("drive");
const me = Number(document.body.dataset.userId);
const list = document.getElementById("entries");
const errorBox = document.getElementById("listing-error");
const state = {
  folder: null,
  items: [],
  view: [],
  total: 0,
  loading: null,
  generation: 0,
  sort: localStorage.getItem("cordvault.sort") || "name",
  desc: localStorage.getItem("cordvault.desc") === "1",
  filter: "",
  selected: new Map(),
};

const uploader = new Uploader(document.getElementById("uploads"), () => {
  refreshSoon();
  document.dispatchEvent(new Event("cordvault:stored")); // the quota line (quota.js) follows
});

// -- listing ---------------------------------------------------------------------------------

async function open(folderId, { push = false } = {}) {
  clearTimeout(refreshTimer); // this load supersedes a pending refresh
  const generation = ++state.generation;
  state.items = [];
  state.view = [];
  state.total = 0;
  state.selected.clear();
  rendered.clear();
  list.replaceChildren();
  list.dataset.loaded = "0";
  showError(errorBox, "");
  await loadMore(folderId);
  if (generation === state.generation) list.removeAttribute("aria-busy");
  if (!state.folder) return;
  const url = `/drive?folder=${encodeURIComponent(state.folder.id)}`;
  if (push) history.pushState({ folder: state.folder.id }, "", url);
  else history.replaceState({ folder: state.folder.id }, "", url);
  renderCrumbs();
  updateSelection();
  const pending = pendingUploads(state.folder.id);
  const hint = document.getElementById("resume-hint");
  hint.hidden = !pending.length;
  hint.textContent = pending.length ? `Unfinished upload${pending.length > 1 ? "s" : ""}: ${pending.join(", ")}. Upload the same file again to resume where it stopped.` : "";
  const usage = document.getElementById("usage");
  if (usage.open) loadUsage();
}

function loadMore(folderId = state.folder?.id, limit = PAGE) {
  if (state.loading) return state.loading;
  if (state.folder && folderId === state.folder.id && state.items.length >= state.total && state.items.length) return Promise.resolve();
  const generation = state.generation;
  const params = new URLSearchParams({ sort: state.sort, order: state.desc ? "desc" : "asc", limit: String(limit), offset: String(state.items.length) });
  state.loading = api("GET", `/api/drive/folders/${encodeURIComponent(folderId)}?${params}`).then((data) => {
    if (generation !== state.generation) return;
    state.folder = { ...data.folder, path: data.path };
    state.total = data.total;
    for (const item of data.items) {
      state.items.push(item);
      if (matches(item)) state.view.push(item); // only the new entries: a page costs O(page)
    }
    list.dataset.loaded = String(state.items.length);
    paint(true);
    showCount();
  }).catch((err) => {
    showError(errorBox, `Could not open the folder: ${describe(err)}`);
  }).finally(() => {
    state.loading = null;
    // Still near the end (a tall screen, a fast scroll): the observer will not fire again.
    const more = document.getElementById("more").getBoundingClientRect();
    if (generation === state.generation && more.top < window.innerHeight + 600 && state.items.length < state.total) setTimeout(() => loadMore(), 0);
  });
  return state.loading;
}

// A refresh (after an upload, move, rename...) reloads the folder's data and swaps it in at once;
// rows whose entry did not change are kept as they are (see sync), so a refresh never detaches
// the row a user is clicking or dragging, and none runs while a row menu, a dialog or a drag is
// open. The list is aria-busy from the moment a refresh is due until it is painted.
let refreshTimer = 0;
let dragging = false;
function refreshSoon() {
  clearTimeout(refreshTimer);
  list.setAttribute("aria-busy", "true");
  refreshTimer = setTimeout(refresh, 300);
}

function userIsActing() {
  return dragging || Boolean(list.querySelector("details[open]")) || Boolean(document.querySelector("dialog[open]"));
}

async function refresh() {
  if (!state.folder) { list.removeAttribute("aria-busy"); return; }
  if (userIsActing()) { refreshTimer = setTimeout(refresh, 300); return; }
  const generation = ++state.generation;
  const folderId = state.folder.id;
  const limit = String(Math.min(FILTER_PAGE, Math.max(PAGE, state.items.length)));
  const params = new URLSearchParams({ sort: state.sort, order: state.desc ? "desc" : "asc", limit, offset: "0" });
  try {
    const data = await api("GET", `/api/drive/folders/${encodeURIComponent(folderId)}?${params}`);
    if (generation !== state.generation) return;
    state.folder = { ...data.folder, path: data.path };
    state.total = data.total;
    state.items = data.items;
    state.view = state.items.filter(matches);
    const fresh = new Map(state.items.map((it) => [it.id, it]));
    for (const id of [...state.selected.keys()]) {
      if (fresh.has(id)) state.selected.set(id, fresh.get(id));
      else state.selected.delete(id);
    }
    list.dataset.loaded = String(state.items.length);
    paint(true);
    updateSelection();
    showCount();
    if (document.getElementById("usage").open) loadUsage();
  } catch (err) {
    if (generation === state.generation) showError(errorBox, `Could not refresh the folder: ${describe(err)}`);
  } finally {
    if (generation === state.generation) list.removeAttribute("aria-busy");
  }
}

function showCount() {
  document.getElementById("empty").hidden = state.total > 0;
  document.getElementById("count").textContent = `${state.total} item${state.total === 1 ? "" : "s"}${state.items.length < state.total ? ` (${state.items.length} shown; scroll for more)` : ""}`;
}

/** What a row shows: a row is rebuilt when this changes, and kept as it is otherwise. */
function signature(item) {
  return [item.name, item.size, item.updated_at, item.public, item.access].join("\u0000");
}

new IntersectionObserver((records) => {
  if (records.some((r) => r.isIntersecting) && state.folder && state.items.length < state.total) loadMore();
}, { rootMargin: "600px" }).observe(document.getElementById("more"));

function renderCrumbs() {
  const ol = document.getElementById("crumbs");
  ol.replaceChildren();
  const parts = state.folder.path.split("/").filter(Boolean);
  const crumbs = [{ name: "Drive", path: "/" }];
  parts.forEach((p, i) => crumbs.push({ name: p, path: "/" + parts.slice(0, i + 1).join("/") }));
  crumbs.forEach((c, i) => {
    const last = i === crumbs.length - 1;
    const link = el("a", { href: `/drive?path=${encodeURIComponent(c.path)}`, "aria-current": last ? "page" : null }, c.name);
    link.addEventListener("click", (e) => { e.preventDefault(); openPath(c.path); });
    ol.append(el("li", {}, link));
  });
  document.title = `${parts.length ? parts[parts.length - 1] : "Drive"} · cordvault`;
}

async function openPath(path) {
  try {
    const found = await api("GET", `/api/drive/resolve?path=${encodeURIComponent(path)}`);
    if (found.folder) await open(found.folder.id, { push: true });
  } catch (err) {
    showError(errorBox, describe(err));
  }
}

function icon(item) {
  return el("img", { src: `/static/img/${item.kind === "folder" ? "folder" : "file"}.svg`, alt: "", width: 22, height: 22 });
}

function renderEntry(item) {
  const isFolder = item.kind === "folder";
  const check = el("input", { type: "checkbox", class: "pick", "aria-label": `Select ${item.name}` });
  check.checked = state.selected.has(item.id);
  check.addEventListener("change", () => {
    if (check.checked) state.selected.set(item.id, item);
    else state.selected.delete(item.id);
    li.classList.toggle("is-selected", check.checked);
    updateSelection();
  });
  const name = el("a", { class: "name", href: isFolder ? `/drive?folder=${encodeURIComponent(item.id)}` : `/view/${encodeURIComponent(item.id)}` }, item.name);
  if (isFolder) name.addEventListener("click", (e) => { if (!e.ctrlKey && !e.metaKey) { e.preventDefault(); open(item.id, { push: true }); } });
  const actions = [];
  if (!isFolder) {
    actions.push(el("a", { href: `/api/drive/files/${item.id}/content`, download: item.name, class: "button" }, "Download"));
    actions.push(el("button", { type: "button", onclick: () => openShare(item, refreshSoon) }, "Share"));
    if (item.access !== "none") actions.push(el("button", { type: "button", onclick: () => openVersions(item, refreshSoon) }, "Versions"));
  } else if (item.owner_id === me) {
    actions.push(el("button", { type: "button", onclick: () => openFolderShare(item, refreshSoon) }, "Share"));
  }
  actions.push(el("button", { type: "button", onclick: () => rename(item) }, "Rename"));
  actions.push(el("button", { type: "button", onclick: () => move([item]) }, "Move"));
  actions.push(el("button", { type: "button", onclick: () => remove([item]) }, "Delete"));
  const menu = el("details", { class: "menu" }, el("summary", { "aria-label": `Actions for ${item.name}` }, "⋯"), el("div", { class: "menu-items" }, ...actions));
  menu.addEventListener("click", (e) => { if (e.target.closest(".menu-items")) menu.open = false; });
  const badges = [];
  if (item.public) badges.push(el("span", { class: "badge" }, "public"));
  if (!isFolder && item.access === "none") badges.push(el("span", { class: "badge" }, "private"));
  const li = el("li", { class: `entry ${isFolder ? "is-folder" : "is-file"}${check.checked ? " is-selected" : ""}`, draggable: "true", dataset: { id: item.id, kind: item.kind, name: item.name.toLowerCase(), sig: signature(item) } },
    check,
    el("span", { class: "icon" }, icon(item)),
    el("span", { class: "label" }, name, ...badges),
    el("span", { class: "size" }, isFolder ? "—" : formatSize(item.size)),
    el("span", { class: "date" }, formatDate(item.updated_at)),
    menu,
  );
  li.addEventListener("dragstart", (e) => {
    const picked = state.selected.has(item.id) ? [...state.selected.values()] : [item];
    e.dataTransfer.setData(DRAG_TYPE, JSON.stringify(picked.map((p) => p.id)));
    e.dataTransfer.effectAllowed = "move";
    dragging = true;
  });
  if (isFolder) {
    li.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes(DRAG_TYPE)) { e.preventDefault(); e.stopPropagation(); li.classList.add("is-target"); } });
    li.addEventListener("dragleave", () => li.classList.remove("is-target"));
    li.addEventListener("drop", (e) => {
      li.classList.remove("is-target");
      if (!e.dataTransfer.types.includes(DRAG_TYPE)) return;
      e.preventDefault();
      e.stopPropagation();
      const ids = JSON.parse(e.dataTransfer.getData(DRAG_TYPE));
      const items = state.items.filter((it) => ids.includes(it.id) && it.id !== item.id);
      moveTo(items, { id: item.id, path: `${state.folder.path.replace(/\/$/, "")}/${item.name}` });
    });
  }
  return li;
}

function matches(item) {
  return !state.filter || item.name.toLowerCase().includes(state.filter.toLowerCase());
}

function applyFilter() {
  state.view = state.filter ? state.items.filter(matches) : state.items.slice();
  window.scrollTo({ top: Math.min(window.scrollY, Math.max(0, listTop() - 100)) });
  paint(true);
  return state.view.length;
}

// -- virtual window --------------------------------------------------------------------------

const rendered = new Map(); // item id -> its <li>, for the rows currently in the list
let layout = null; // {cols, pitch}: measured from a real row, reset on resize or view change
let paintQueued = false;

function listTop() { return list.getBoundingClientRect().top + window.scrollY; }

function measure() {
  const grid = list.classList.contains("grid");
  const style = getComputedStyle(list);
  const cols = grid ? Math.max(1, style.gridTemplateColumns.split(" ").filter(Boolean).length) : 1;
  const row = list.querySelector("li");
  if (!row) return null;
  const gap = grid ? parseFloat(style.rowGap) || 0 : 0;
  return { cols, pitch: Math.max(1, row.getBoundingClientRect().height + gap) };
}

function schedulePaint() {
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => { paintQueued = false; paint(); });
}

/** Put the rows near the viewport in the list (``force``: even if the window is unchanged). */
function paint(force = false) {
  const n = state.view.length;
  if (!layout && n) {
    // First rows of a folder, or a layout change (resize, list/grid): measure a real row.
    if (!list.firstElementChild) sync(0, 1);
    layout = measure();
  }
  const { cols, pitch } = layout || { cols: 1, pitch: 40 };
  const rows = Math.ceil(n / cols);
  const top = list.getBoundingClientRect().top;
  const first = Math.min(rows, Math.max(0, Math.floor(-top / pitch) - BUFFER_ROWS));
  const last = Math.min(rows, Math.max(first, Math.ceil((window.innerHeight - top) / pitch) + BUFFER_ROWS));
  const from = first * cols;
  const to = Math.min(n, last * cols);
  if (!force && list.dataset.from === String(from) && list.dataset.to === String(to)) return;
  list.style.setProperty("--before", `${first * pitch}px`);
  list.style.setProperty("--after", `${(rows - last) * pitch}px`);
  sync(from, to);
}

/** Make the list hold exactly the rows ``from``..``to`` of the view. Rows that stay are not
 * moved (focus and open menus survive scrolling); new ones are created or reused. */
function sync(from, to) {
  const n = state.view.length;
  const want = [];
  for (let i = from; i < to; i++) {
    const item = state.view[i];
    const kept = rendered.get(item.id);
    const li = kept && kept.dataset.sig === signature(item) ? kept : renderEntry(item);
    li.setAttribute("aria-posinset", String(i + 1));
    li.setAttribute("aria-setsize", String(n));
    want.push(li);
  }
  const keep = new Set(want);
  for (const li of [...list.children]) if (!keep.has(li)) li.remove();
  let cursor = list.firstElementChild;
  for (const li of want) {
    if (li === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(li, cursor);
  }
  rendered.clear();
  for (let i = from; i < to; i++) rendered.set(state.view[i].id, want[i - from]);
  list.dataset.from = String(from);
  list.dataset.to = String(to);
}

window.addEventListener("scroll", schedulePaint, { passive: true });
window.addEventListener("resize", () => { layout = null; schedulePaint(); });

/** Arrow keys, Page Up/Down, Home/End: focus the same control of another row. */
list.addEventListener("keydown", (e) => {
  const li = e.target.closest("li.entry");
  if (!li || e.target.closest(".menu-items") || e.altKey || e.ctrlKey || e.metaKey) return;
  const grid = list.classList.contains("grid");
  const cols = layout?.cols || 1;
  const page = Math.max(1, Math.floor(window.innerHeight / (layout?.pitch || 40)) - 1) * cols;
  const steps = { ArrowDown: cols, ArrowUp: -cols, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
  if (grid) Object.assign(steps, { ArrowRight: 1, ArrowLeft: -1 });
  if (!(e.key in steps)) return;
  e.preventDefault();
  const at = Number(li.getAttribute("aria-posinset")) - 1;
  const target = Math.max(0, Math.min(state.view.length - 1, at + steps[e.key]));
  const control = e.target.matches(".pick") ? ".pick" : e.target.matches("summary") ? "summary" : ".name";
  focusRow(target, control);
});

function focusRow(index, control) {
  const { cols, pitch } = layout || { cols: 1, pitch: 40 };
  const y = listTop() + Math.floor(index / cols) * pitch;
  if (y < window.scrollY + 80 || y + pitch > window.scrollY + window.innerHeight) {
    window.scrollTo({ top: Math.max(0, y - window.innerHeight / 3) });
  }
  paint();
  const item = state.view[index];
  rendered.get(item?.id)?.querySelector(control)?.focus();
}

// -- selection and actions -----------------------------------------------------------------

function updateSelection() {
  const n = state.selected.size;
  document.getElementById("selection").hidden = n === 0;
  document.getElementById("selection-count").textContent = `${n} selected`;
  const all = document.getElementById("select-all");
  // Checked when every entry shown (the filtered view) is selected.
  all.checked = n > 0 && state.view.length > 0 && state.view.every((it) => state.selected.has(it.id));
}

function kindPath(item) { return item.kind === "folder" ? "folders" : "files"; }

async function rename(item) {
  const name = await askName(`Rename ${item.kind}`, "New name", item.name, "Rename");
  if (!name || name === item.name) return;
  try {
    await api("PATCH", `/api/drive/${kindPath(item)}/${item.id}`, { json: { name } });
    say(`Renamed to ${name}.`);
    refreshSoon();
  } catch (err) {
    say(`Could not rename ${item.name}: ${describe(err)}`, true);
  }
}

async function move(items) {
  const target = await pickFolder(`Move ${items.length === 1 ? items[0].name : `${items.length} items`}`, state.folder.id);
  if (target) await moveTo(items, target);
}

async function moveTo(items, target) {
  const failures = [];
  for (const item of items) {
    const body = item.kind === "folder" ? { parent_id: target.id } : { folder_id: target.id };
    try {
      await api("PATCH", `/api/drive/${kindPath(item)}/${item.id}`, { json: body });
    } catch (err) {
      failures.push(`${item.name}: ${describe(err)}`);
    }
  }
  if (failures.length) say(`Not moved: ${failures.join(" ")}`, true);
  else say(`Moved ${items.length} item${items.length === 1 ? "" : "s"} to ${target.path}.`);
  refreshSoon();
}

async function remove(items) {
  const what = items.length === 1 ? `“${items[0].name}”` : `${items.length} items`;
  const folders = items.some((i) => i.kind === "folder");
  const inside = folders ? ", with everything inside the folders" : "";
  const toTrash = Number(root.dataset.trashDays) > 0; // 0: the server has no trash
  const text = toTrash
    ? `${what} will be moved to the trash${inside}. You can restore ${items.length === 1 ? "it" : "them"} from the trash for ${root.dataset.trashDays} days.`
    : `${what} will be deleted${inside}. This cannot be undone.`;
  if (!(await confirmAction(`Delete ${what}?`, text))) return;
  const failures = [];
  const done = [];
  for (const item of items) {
    try {
      await api("DELETE", `/api/drive/${kindPath(item)}/${item.id}`);
      done.push(item);
    } catch (err) {
      failures.push(`${item.name}: ${describe(err)}`);
    }
  }
  if (failures.length) say(`Not deleted: ${failures.join(" ")}`, true);
  else if (!toTrash) say(`Deleted ${what}.`);
  if (toTrash && done.length) offerUndo(`Moved ${done.length === 1 ? `“${done[0].name}”` : `${done.length} items`} to the trash.`, done, refreshSoon);
  refreshSoon();
}

function zip(items) {
  const params = new URLSearchParams();
  for (const it of items) params.append(it.kind === "folder" ? "folder" : "file", it.id);
  const link = el("a", { href: `/api/drive/zip?${params}`, download: "selection.zip", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
}

async function loadUsage() {
  const body = document.getElementById("usage-body");
  try {
    const u = await api("GET", `/api/drive/folders/${state.folder.id}/usage`);
    const rows = u.by_type.map((t) => el("tr", {}, el("th", { scope: "row" }, t.type), el("td", {}, String(t.count)), el("td", {}, formatSize(t.size))));
    body.replaceChildren(
      el("p", {}, `${u.files} file${u.files === 1 ? "" : "s"}, ${formatSize(u.size)} in this folder and below.`),
      el("table", { class: "usage-table" }, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Type"), el("th", { scope: "col" }, "Files"), el("th", { scope: "col" }, "Size"))), el("tbody", {}, ...rows)),
    );
  } catch (err) {
    body.textContent = describe(err);
  }
}

// -- wiring ----------------------------------------------------------------------------------

document.getElementById("new-folder").addEventListener("click", async () => {
  const name = await askName("New folder", "Folder name", "", "Create");
  if (!name) return;
  try {
    await api("POST", "/api/drive/folders", { json: { parent_id: state.folder.id, name } });
    say(`Created ${name}.`);
    refreshSoon();
  } catch (err) {
    say(`Could not create ${name}: ${describe(err)}`, true);
  }
});
for (const [button, input] of [["upload-files", "pick-files"], ["upload-folder", "pick-folder"]]) {
  const picker = document.getElementById(input);
  document.getElementById(button).addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    uploader.add(pickedEntries(picker), state.folder);
    picker.value = "";
  });
}
const sort = document.getElementById("sort");
const order = document.getElementById("order");
const view = document.getElementById("view");
sort.value = state.sort;
order.setAttribute("aria-pressed", String(state.desc));
sort.addEventListener("change", () => { state.sort = sort.value; localStorage.setItem("cordvault.sort", sort.value); open(state.folder.id); });
order.addEventListener("click", () => {
  state.desc = !state.desc;
  localStorage.setItem("cordvault.desc", state.desc ? "1" : "0");
  order.setAttribute("aria-pressed", String(state.desc));
  open(state.folder.id);
});
function setView(grid) {
  // Keep the entry at the top of the screen there: the other view has another height.
  const anchor = layout ? Math.max(0, Math.floor(-list.getBoundingClientRect().top / layout.pitch)) * layout.cols : 0;
  list.classList.toggle("grid", grid);
  layout = null;
  if (state.folder) {
    paint(true);
    if (anchor > 0 && layout) window.scrollTo({ top: listTop() + Math.floor(anchor / layout.cols) * layout.pitch });
    paint(true);
  }
  view.setAttribute("aria-pressed", String(grid));
  localStorage.setItem("cordvault.view", grid ? "grid" : "list");
}
setView(localStorage.getItem("cordvault.view") === "grid");
view.addEventListener("click", () => setView(!list.classList.contains("grid")));
const filter = document.getElementById("filter");
filter.addEventListener("input", async () => {
  state.filter = filter.value.trim();
  const shown = applyFilter();
  if (state.filter) say(`${shown} shown.`);
  // Filtering covers the whole folder: load what is not loaded yet, in big pages.
  while (state.filter && state.items.length < state.total && !errorBox.textContent) await loadMore(state.folder.id, FILTER_PAGE);
});
/** Select or unselect ``items`` (data first; the rows on screen follow). */
function setSelected(items, on) {
  for (const item of items) {
    if (on) state.selected.set(item.id, item);
    else state.selected.delete(item.id);
    const li = rendered.get(item.id);
    if (li) { li.querySelector(".pick").checked = on; li.classList.toggle("is-selected", on); }
  }
  updateSelection();
}
document.getElementById("select-all").addEventListener("change", (e) => setSelected(state.view, e.target.checked));
document.getElementById("sel-move").addEventListener("click", () => move([...state.selected.values()]));
document.getElementById("sel-delete").addEventListener("click", () => remove([...state.selected.values()]));
document.getElementById("sel-zip").addEventListener("click", () => zip([...state.selected.values()]));
document.getElementById("sel-clear").addEventListener("click", () => setSelected([...state.selected.values()], false));
document.getElementById("usage").addEventListener("toggle", (e) => { if (e.target.open) loadUsage(); });

const zone = document.getElementById("dropzone");
zone.addEventListener("dragover", (e) => {
  if (e.dataTransfer.types.includes("Files")) { e.preventDefault(); zone.classList.add("is-dropping"); }
});
zone.addEventListener("dragleave", (e) => { if (!zone.contains(e.relatedTarget)) zone.classList.remove("is-dropping"); });
zone.addEventListener("drop", async (e) => {
  zone.classList.remove("is-dropping");
  if (!e.dataTransfer || !e.dataTransfer.types.includes("Files")) return;
  e.preventDefault();
  const entries = await droppedEntries(e.dataTransfer);
  uploader.add(entries, state.folder);
});
document.addEventListener("dragend", () => { dragging = false; });
document.addEventListener("drop", () => { dragging = false; });
window.addEventListener("popstate", (e) => { if (e.state && e.state.folder) open(e.state.folder); });

const params = new URLSearchParams(location.search);
if (params.get("path")) openPath(params.get("path"));
else open(root.dataset.folder || "root");
