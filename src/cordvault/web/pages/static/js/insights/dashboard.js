// /insights/dashboard: open a result database in this browser and show its statistics.
//
// Sources: the result named in the URL fragment (#<result id>, saved by /insights in
// IndexedDB: store.js), one picked from the device's saved list, or a local .sqlite file
// chosen or dropped. The bytes go to a sql.js Web Worker (sqlite.js) and never to any server;
// every number below is a query over them (queries.js), re-run for each time range. The one
// exception: the names and avatars of the DM users shown, asked of this server (people.js) for
// a result of this server whose key this browser keeps, and only when the server can.

import { el, say } from "../api.js";
import { chartBlock, destroyCharts, download, tableBlock, toCsv } from "./charts.js";
import { foldHours, initialsOf, loadDrill, loadMeta, loadRange, rangeOf, SECTIONS, series } from "./queries.js";
import { applyPerson, openPeople } from "./people.js";
import { isContainer, openBlobFile } from "./blobfile.js";
import { openWorkerDatabase } from "./sqlite.js";
import { forgetResult, listResults, loadResult } from "./store.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 10;
// Short local names of the days of the week, Sunday first (2023-01-01 was a Sunday).
const WEEKDAYS = [...Array(7).keys()].map((d) => new Date(Date.UTC(2023, 0, 1 + d)).toLocaleDateString(undefined, { weekday: "short", timeZone: "UTC" }));
const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "your time zone";
const SQLITE_MAGIC = "SQLite format 3\u0000";

const state = {
  db: null,
  exportBlob: null, // () => Promise<Blob>: the database file as opened, for "Download"
  label: "",
  meta: null,
  data: null,
  step: "auto", // "day" | "week" | "month"; auto picks from the range's length
  drill: null, // the entry shown in the drill-down, or null
  lastOpener: null,
  generation: 0,
  rangeToken: 0,
  resultId: null, // the saved result shown (null: a local file)
  people: null, // names and avatars of DM users (people.js), or null: initials
};

// ---- formatting -----------------------------------------------------------------------

const num = (n) => (n ?? 0).toLocaleString();
function fmtDay(day) {
  if (!day) return "–";
  return new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { timeZone: "UTC", dateStyle: "medium" });
}
function fmtMinutes(m) {
  m = m ?? 0;
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60).toLocaleString()} h ${m % 60} min`;
}
function fmtMoney(minor, currency) {
  try {
    const f = new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() });
    const digits = f.resolvedOptions().maximumFractionDigits;
    return f.format(minor / 10 ** digits);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}
function hourLabel(h) {
  return `${String(h).padStart(2, "0")}:00`;
}

// ---- opening ---------------------------------------------------------------------------

function showLoadError(message) {
  $("load-error").textContent = message;
  $("load-error").hidden = !message;
}

async function openBytes(bytes, label, exportBlob) {
  const gen = ++state.generation;
  showLoadError("");
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 16));
  if (head !== SQLITE_MAGIC) {
    showLoadError("This file is not a result database (SQLite). An encrypted result is opened from the Insights page, with its key.");
    return;
  }
  $("loading").hidden = false;
  delete $("dashboard").dataset.shown;
  const started = performance.now();
  try {
    state.db?.close();
    state.db = null;
    const timings = {};
    let mark = performance.now();
    const lap = (name) => { const now = performance.now(); timings[name] = Math.round(now - mark); mark = now; };
    const db = await openWorkerDatabase(bytes, { transfer: true }); // no second 60 MB copy
    lap("open");
    const meta = await loadMeta(db);
    lap("meta");
    if (gen !== state.generation) return db.close();
    Object.assign(state, { db, exportBlob, label, meta, drill: null });
    $("dashboard").hidden = false;
    renderOwner();
    await renderRange(timings);
    lap("render");
    // The first render's cost, for the benchmark (benchmarks/insights_dashboard.py).
    document.body.dataset.renderMs = String(Math.round(performance.now() - started));
    document.body.dataset.timings = JSON.stringify(timings);
    say(`Opened ${label}.`);
  } catch (err) {
    showLoadError(err instanceof Error && err.message.startsWith("This is not") ? err.message : `This file could not be opened as a result database (${err.message ?? err}).`);
    $("dashboard").hidden = true;
  } finally {
    if (gen === state.generation) $("loading").hidden = true;
  }
}

async function openSaved(id) {
  let rec;
  try {
    rec = await loadResult(id);
  } catch (err) {
    showLoadError(`This browser's storage could not be read (${err.message ?? err}).`);
    return;
  }
  if (!rec) {
    showLoadError("This result is not saved on this device (it may have been forgotten). Open it again from the Insights page, or choose a file.");
    return;
  }
  await refreshSaved();
  $("saved-list").value = rec.id;
  const exportBlob = async () => new Blob([(await loadResult(rec.id))?.bytes ?? new ArrayBuffer(0)]);
  state.people?.close();
  state.people = await openPeople({ id: rec.id, packageId: rec.packageId });
  await openBytes(new Uint8Array(rec.bytes), rec.label || rec.id, exportBlob);
  state.resultId = rec.id;
}

async function refreshSaved() {
  let results = [];
  try {
    results = await listResults();
  } catch {
    results = [];
  }
  const select = $("saved-list");
  select.replaceChildren(...results.map((r) => el("option", { value: r.id }, `${r.label || r.id} (${new Date(r.savedAt).toLocaleString()})`)));
  $("saved").hidden = results.length === 0;
}

async function openFile(file) {
  if (!file) return;
  state.resultId = null;
  state.people?.close();
  state.people = null; // a file from this computer: no package of this server, no key
  let bytes = new Uint8Array(await file.arrayBuffer());
  if (location.hash) history.replaceState(null, "", location.pathname);
  let reread = async () => file; // the File is read from disk again
  if (isContainer(bytes.buffer)) {
    // An encrypted result (.cvblob): its key is asked for and checked here (blobfile.js).
    showLoadError("");
    const db = await openBlobFile(bytes.buffer, showLoadError);
    if (!db) return;
    bytes = new Uint8Array(db);
    const plain = new Blob([bytes.slice()]); // kept for "Download": the bytes move to the worker
    reread = async () => plain;
  }
  await openBytes(bytes, file.name, reread);
}

/** Stop showing the open result (its worker ends; its bytes are dropped). */
function closeResult() {
  state.generation++;
  state.db?.close();
  state.people?.close();
  Object.assign(state, { db: null, exportBlob: null, meta: null, data: null, drill: null, resultId: null, people: null });
  destroyCharts("overview");
  destroyCharts("drill");
  $("dashboard").hidden = true;
  delete $("dashboard").dataset.shown;
  if (location.hash) history.replaceState(null, "", location.pathname);
}

// ---- the overview -----------------------------------------------------------------------

function currentRange() {
  const name = new FormData($("range")).get("range") || "lifetime";
  $("custom").hidden = name !== "custom";
  return rangeOf(name, state.meta.bounds, { from: $("range-from").value, to: $("range-to").value });
}

function renderOwner() {
  const { pkg, sections, partial, bounds } = state.meta;
  $("owner").textContent = pkg.package_owner_name ? `· ${pkg.package_owner_display_name || pkg.package_owner_name}` : "";
  const missing = sections ? SECTIONS.filter((s) => !sections.includes(s)) : [];
  const notice = $("partial");
  if (partial || missing.length) {
    const what = missing.length ? `It has no ${missing.join(", ")} section${missing.length > 1 ? "s" : ""}, so` : "Some sections are missing or empty, so";
    notice.textContent = `This is a partial package. ${what} the numbers that come from ${missing.length > 1 ? "them" : "it"} are zero or absent here.`;
    notice.hidden = false;
  } else notice.hidden = true;
  $("range-from").min = $("range-to").min = bounds.first ?? "";
  $("range-from").max = $("range-to").max = bounds.last ?? "";
  if (!$("range-from").value) $("range-from").value = bounds.first ?? "";
  if (!$("range-to").value) $("range-to").value = bounds.last ?? "";
}

async function renderRange(timings = {}) {
  const gen = state.generation;
  const token = ++state.rangeToken; // a later range change wins over this one
  delete $("dashboard").dataset.shown;
  const range = currentRange();
  $("range-text").textContent = range.shownStart
    ? `${fmtDay(range.shownStart)} to ${fmtDay(range.shownEnd)} (UTC days; ranges end on the last day with data).`
    : "This result has no dated activity.";
  let mark = performance.now();
  const data = await loadRange(state.db, state.meta, range);
  if (gen !== state.generation || token !== state.rangeToken) return;
  timings.queries = Math.round(performance.now() - mark);
  mark = performance.now();
  data.folded = foldHours(data.hours);
  timings.fold = Math.round(performance.now() - mark);
  state.data = data;
  renderHeadline();
  renderTime();
  renderLists();
  renderUsage();
  renderExtras();
  if (state.drill) await openDrill(state.drill, false);
  // What is on screen now (scripts and tests wait for it): range name and its UTC days.
  $("dashboard").dataset.shown = `${range.name}:${range.start}:${range.end}`;
}

// data-value: the raw figure behind the shown text (for scripts and tests; never formatted).
function stat(key, label, value, detail, raw) {
  const dd = el("dd", { "data-key": key, "data-value": raw ?? null }, value, detail ? el("span", { class: "meta" }, ` ${detail}`) : null);
  return [el("div", { class: "stat" }, el("dt", {}, label), dd)]; // a <div> may group dt/dd
}

function renderHeadline() {
  const { folded, lists, sessionsByOs, voice, payments, reactions } = state.data;
  const topCount = (list) => list[0] ? `(${num(list[0].n)} messages)` : "";
  const sessions = sessionsByOs.reduce((t, r) => t + r.sessions, 0);
  const sessionMinutes = sessionsByOs.reduce((t, r) => t + r.minutes, 0);
  const paid = payments.length ? payments.map((p) => fmtMoney(p.amount, p.currency)).join(", ") : "none";
  const top = (list) => (list[0] ? list[0].name : "–");
  const topRaw = (list) => (list[0] ? `${list[0].id}:${list[0].n}` : "");
  $("headline").replaceChildren(
    ...stat("messages", "Messages sent", num(folded.total), "", folded.total),
    ...stat("active-days", "Active days", num(folded.activeDays), "", folded.activeDays),
    ...stat("best-day", "Most active day", folded.best ? fmtDay(folded.best.day) : "–", folded.best ? `(${num(folded.best.n)} messages)` : "", folded.best ? `${folded.best.day}:${folded.best.n}` : ""),
    ...stat("streak", "Longest streak", folded.longest ? `${num(folded.longest.days)} days` : "–", folded.longest ? `(${fmtDay(folded.longest.start)} to ${fmtDay(folded.longest.end)})` : "", folded.longest?.days ?? 0),
    ...stat("top-dm", "Top DM", top(lists.dms), topCount(lists.dms), topRaw(lists.dms)),
    ...stat("top-guild", "Top server", top(lists.guilds), topCount(lists.guilds), topRaw(lists.guilds)),
    ...stat("top-channel", "Top channel", top(lists.channels), topCount(lists.channels), topRaw(lists.channels)),
    ...stat("sessions", "Sessions", num(sessions), `(${fmtMinutes(sessionMinutes)})`, `${sessions}:${sessionMinutes}`),
    ...stat("voice", "Voice time", `${num(voice.total)} minutes`, `(${num(voice.sessions)} calls)`, `${voice.sessions}:${voice.total}`),
    ...stat("reactions", "Reactions added", num(reactions.reduce((t, r) => t + r.n, 0)), "", reactions.reduce((t, r) => t + r.n, 0)),
    ...stat("payments", "Payments", paid, "", payments.map((p) => `${p.currency}:${p.payments}:${p.amount}`).sort().join(",")),
  );
}

function stepFor(folded) {
  if (state.step !== "auto") return state.step;
  const days = [...folded.perDay.keys()];
  if (days.length < 2) return "day";
  const span = (Date.parse(days[days.length - 1]) - Date.parse(days[0])) / 86_400_000;
  return span > 730 ? "month" : span > 120 ? "week" : "day";
}

function timeCharts(folded, group) {
  const step = stepFor(folded);
  const points = series(folded.perDay, step);
  const stepName = { day: "day", week: "week (from Monday)", month: "month" }[step];
  return [
    chartBlock({ title: `Messages per ${stepName}`, points, x: "time", columns: [step === "day" ? "Day" : "Period starting", "Messages"], bars: points.length < 400, group }),
    chartBlock({ title: "Messages by hour of day", points: folded.byHour.map((n, h) => [hourLabel(h), n]), columns: ["Hour", "Messages"], group }),
    chartBlock({ title: "Messages by day of week", points: [1, 2, 3, 4, 5, 6, 0].map((d) => [WEEKDAYS[d], folded.byWeekday[d]]), columns: ["Day of week", "Messages"], group }),
  ];
}

function stepPicker(onChange) {
  const select = el(
    "select",
    { id: `step-${Math.random().toString(36).slice(2, 7)}`, onchange: (e) => { state.step = e.target.value; onChange(); } },
    ...["auto", "day", "week", "month"].map((s) => el("option", { value: s, selected: s === state.step }, s === "auto" ? "by the range's length" : `per ${s}`)),
  );
  return el("div", { class: "inline-form" }, el("label", { for: select.id }, "Show messages"), select);
}

function renderTime() {
  destroyCharts("overview");
  $("tz-note").textContent = `Hours and days are in your time zone, ${TIME_ZONE}.`;
  $("time-body").replaceChildren(stepPicker(renderTime), ...timeCharts(state.data.folded, "overview"));
}

// Ranked, searchable, paged lists.
function rankedList(title, entries, kindLabel) {
  const section = el("section", { class: "ranked" });
  const searchId = `search-${kindLabel}`;
  const search = el("input", { type: "search", id: searchId, placeholder: "Search", autocomplete: "off" });
  const list = el("ol", { class: "ranked-list" });
  const pager = el("div", { class: "pager" });
  const total = entries.reduce((t, e) => t + e.n, 0);
  let page = 0;
  const filtered = () => {
    const q = search.value.trim().toLowerCase();
    const text = (e) => `${e.name} ${e.sub} ${e.person?.displayName ?? ""} ${e.person?.username ?? ""}`;
    return q ? entries.filter((e) => text(e).toLowerCase().includes(q)) : entries;
  };
  const draw = () => {
    const rows = filtered();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const slice = rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    list.start = page * PAGE_SIZE + 1;
    list.replaceChildren(
      ...slice.map((e) => {
        const avatar = el("span", { class: "avatar", "aria-hidden": "true" }, e.initials);
        const name = el("span", { class: "name" }, e.name);
        const sub = el("span", { class: "meta" }, e.sub);
        if (e.kind === "dm") avatar.dataset.user = e.userId;
        showPerson(e, { avatar, name, sub });
        return el(
          "li",
          {},
          el(
            "button",
            { type: "button", class: "entry-open", onclick: (ev) => { state.lastOpener = ev.currentTarget; openDrill(e, true); } },
            avatar,
            el("span", { class: "who" }, name, sub),
            el("span", { class: "count" }, `${num(e.n)} messages`),
          ),
        );
      }),
    );
    if (rows.length === 0) list.replaceChildren(el("li", { class: "hint" }, entries.length ? "Nothing matches." : "None in this range."));
    const prev = el("button", { type: "button", disabled: page === 0, onclick: () => { page--; draw(); } }, "Previous");
    const next = el("button", { type: "button", disabled: page >= pages - 1, onclick: () => { page++; draw(); } }, "Next");
    pager.replaceChildren(prev, el("span", { class: "meta", "aria-live": "polite" }, `Page ${page + 1} of ${pages} · ${num(rows.length)} ${kindLabel}`), next);
  };
  search.addEventListener("input", () => { page = 0; draw(); });
  const csv = el("button", {
    type: "button",
    class: "csv",
    onclick: () => download(`${kindLabel}.csv`, toCsv(["Rank", "Name", "Detail", "Id", "Messages"], filtered().map((e, i) => [i + 1, e.name, e.sub, e.id, e.n])), "text/csv"),
  }, "Download CSV");
  csv.dataset.table = title;
  section.append(
    el("h3", {}, title, el("span", { class: "meta" }, ` · ${num(total)} messages`)),
    el("div", { class: "toolbar" }, el("label", { for: searchId, class: "visually-hidden" }, `Search ${title}`), search, csv),
    list,
    pager,
  );
  draw();
  return section;
}

/** Fill a DM entry's elements with its user's looked-up name and avatar, when there are any. */
function showPerson(entry, elements) {
  const people = state.people;
  if (entry.kind !== "dm" || !people) return;
  people.person(entry.userId).then((person) => {
    if (!person || people !== state.people) return;
    entry.person = person; // the search finds the looked-up names too
    applyPerson(person, { ...elements, initialsOf });
  });
}

function renderLists() {
  const { lists } = state.data;
  $("lists").replaceChildren(
    rankedList("Direct messages", lists.dms, "dms"),
    rankedList("Group DMs", lists.groups, "groups"),
    rankedList("Channels", lists.channels, "channels"),
    rankedList("Servers", lists.guilds, "servers"),
  );
}

function renderUsage() {
  const { sessionsByOs, appOpenedByOs, voice, apps, events } = state.data;
  const blocks = [];
  blocks.push(el("h3", {}, "Sessions by operating system"));
  if (sessionsByOs.length) {
    blocks.push(chartBlock({ title: "Session hours by operating system", points: sessionsByOs.map((r) => [r.os, Math.round(r.minutes / 6) / 10]), columns: ["Operating system", "Hours"] }));
    const t = tableBlock({ title: "Sessions by operating system", columns: ["Operating system", "Sessions", "Minutes"], rows: sessionsByOs.map((r) => [r.os, r.sessions, r.minutes]), numeric: [1, 2] });
    blocks.push(t.table, t.csv);
  } else blocks.push(el("p", { class: "hint" }, "No sessions in this range."));
  blocks.push(el("p", { class: "hint" }, "Discord's package records the operating system of each session; it does not say which device or client app."));
  if (appOpenedByOs.length) {
    const t = tableBlock({ title: "App opened, by client platform", columns: ["Platform", "Times opened"], rows: appOpenedByOs.map((r) => [r.os, r.n]), numeric: [1] });
    blocks.push(el("h3", {}, "App opened, by client platform"), t.table, t.csv);
  }
  blocks.push(el("h3", {}, "Voice"), el("p", {}, `${num(voice.total)} minutes (${fmtMinutes(voice.total)}) in ${num(voice.sessions)} calls.`));
  if (voice.byChannel.length) {
    const byServer = tableBlock({ title: "Voice time by server", columns: ["Server", "Calls", "Minutes"], rows: voice.byServer.map((r) => [r.server, r.sessions, r.minutes]), numeric: [1, 2] });
    const byChannel = tableBlock({ title: "Voice time by channel", columns: ["Channel", "Server", "Calls", "Minutes"], rows: voice.byChannel.map((r) => [r.name, r.server, r.sessions, r.minutes]), numeric: [2, 3] });
    blocks.push(el("h4", {}, "By server"), byServer.table, byServer.csv, el("h4", {}, "By channel"), byChannel.table, byChannel.csv);
  }
  blocks.push(el("h3", {}, "Apps and bots (commands used)"));
  if (apps.length) {
    const t = tableBlock({ title: "Application commands used", columns: ["Application id", "Servers", "Commands"], rows: apps.map((r) => [r.app, r.servers, r.n]), numeric: [1, 2] });
    blocks.push(t.table, t.csv);
  } else blocks.push(el("p", { class: "hint" }, "No application commands in this range (or the package has no activity section)."));
  const counted = Object.entries(events).sort((a, b) => b[1] - a[1]);
  if (counted.length) {
    const t = tableBlock({ title: "Other activity", columns: ["Event", "Count"], rows: counted.map(([k, n]) => [k.replaceAll("_", " "), n]), numeric: [1] });
    blocks.push(el("h3", {}, "Other activity"), t.table, t.csv);
  }
  $("usage-body").replaceChildren(...blocks);
}

function renderExtras() {
  const { reactions, payments } = state.data;
  const blocks = [el("h3", {}, "Reactions")];
  if (reactions.length) {
    const t = tableBlock({ title: "Reactions by emoji", columns: ["Emoji", "Custom emoji", "Reactions"], rows: reactions.map((r) => [r.emoji, r.custom === "1" ? "yes" : "no", r.n]), numeric: [2] });
    blocks.push(t.table, t.csv);
  } else blocks.push(el("p", { class: "hint" }, "No reactions in this range."));
  blocks.push(el("h3", {}, "Payments"));
  if (payments.length) {
    const t = tableBlock({ title: "Payments by currency", columns: ["Currency", "Payments", "Total"], rows: payments.map((p) => [p.currency.toUpperCase(), p.payments, fmtMoney(p.amount, p.currency)]), numeric: [1] });
    blocks.push(t.table, t.csv);
  } else blocks.push(el("p", { class: "hint" }, "No payments in this range."));
  $("extras-body").replaceChildren(...blocks);
}

// ---- drill-down -----------------------------------------------------------------------

const KIND_NAMES = { dm: "Direct messages with", group: "Group DM", channel: "Channel", guild: "Server" };

async function openDrill(entry, moveFocus) {
  const gen = state.generation;
  state.drill = entry;
  const drill = await loadDrill(state.db, state.data.range, entry);
  if (gen !== state.generation || state.drill !== entry) return;
  const folded = foldHours(drill.hours);
  const topHour = folded.total ? folded.byHour.indexOf(Math.max(...folded.byHour)) : null;
  const title = $("drill-title");
  title.textContent = `${KIND_NAMES[entry.kind]} ${entry.name}`;
  delete title.dataset.lookedUp;
  const avatar = $("drill-avatar");
  avatar.hidden = entry.kind !== "dm";
  avatar.replaceChildren(entry.initials ?? "");
  delete avatar.dataset.avatar;
  if (entry.kind === "dm") {
    avatar.dataset.user = entry.userId;
    // The title keeps its "Direct messages with" prefix: only the name part changes.
    const name = el("span", {}, entry.name);
    title.replaceChildren(`${KIND_NAMES.dm} `, name);
    showPerson(entry, { avatar, name });
  }
  $("drill-headline").replaceChildren(
    ...stat("drill-messages", "Messages sent", num(folded.total), "", folded.total),
    ...stat("drill-active-days", "Active days", num(folded.activeDays)),
    ...stat("drill-best-day", "Most active day", folded.best ? fmtDay(folded.best.day) : "–", folded.best ? `(${num(folded.best.n)} messages)` : ""),
    ...stat("drill-top-hour", "Busiest hour", topHour === null ? "–" : hourLabel(topHour)),
    ...stat("drill-reactions", "Reactions added", num(drill.reactions), "", drill.reactions),
    ...stat("drill-voice", "Voice time", `${num(drill.voiceMinutes)} minutes`, `(${num(drill.voiceSessions)} calls)`, `${drill.voiceSessions}:${drill.voiceMinutes}`),
  );
  destroyCharts("drill");
  const body = [stepPicker(() => openDrill(entry, false)), ...timeCharts(folded, "drill")];
  if (drill.channels) {
    const t = tableBlock({ title: `Channels of ${entry.name}`, columns: ["Channel", "Messages"], rows: drill.channels.map((c) => [`#${c.channel_name}`, c.n]), numeric: [1] });
    body.push(el("h3", {}, "Channels"), t.table, t.csv);
  }
  $("drill-body").replaceChildren(...body);
  $("drill").hidden = false;
  $("drill").dataset.shown = `${entry.kind}:${entry.id}:${state.data.range.name}`;
  $("overview").hidden = true;
  if (moveFocus) $("drill").focus();
}

function closeDrill() {
  state.drill = null;
  delete $("drill").dataset.shown;
  destroyCharts("drill");
  $("drill").hidden = true;
  $("overview").hidden = false;
  if (state.lastOpener?.isConnected) state.lastOpener.focus();
}

// ---- wiring -----------------------------------------------------------------------------

function wire() {
  $("file").addEventListener("change", (e) => openFile(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("is-dropping"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("is-dropping"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("is-dropping");
    openFile(e.dataTransfer?.files?.[0]);
  });
  $("open-saved").addEventListener("click", () => {
    const id = $("saved-list").value;
    if (!id) return;
    history.replaceState(null, "", `#${encodeURIComponent(id)}`);
    openSaved(id);
  });
  $("forget-saved").addEventListener("click", async () => {
    const id = $("saved-list").value;
    if (!id) return;
    await forgetResult(id);
    if (id === state.resultId) closeResult();
    say("Forgotten on this device.");
    await refreshSaved();
  });
  $("range").addEventListener("change", (e) => {
    if (e.target.name === "range" && e.target.value !== "custom") renderRange();
    else if (e.target.name === "range") currentRange();
  });
  $("range").addEventListener("submit", (e) => {
    e.preventDefault();
    renderRange();
  });
  $("drill-back").addEventListener("click", closeDrill);
  $("export-sqlite").addEventListener("click", async () => {
    const name = /\.sqlite3?$|\.db$/i.test(state.label) ? state.label : `${state.label || "insights"}.sqlite`;
    if (!state.exportBlob) return;
    download(name, await state.exportBlob(), "application/vnd.sqlite3");
  });
  window.addEventListener("hashchange", () => {
    const id = decodeURIComponent(location.hash.slice(1));
    if (id) openSaved(id);
  });
}

async function start() {
  wire();
  await refreshSaved();
  const id = decodeURIComponent(location.hash.slice(1));
  if (id) await openSaved(id);
}

start();
