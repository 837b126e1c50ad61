// Charts (vendored uPlot) that are always also a table, and CSV export of any table.
//
// Each chart block is: a heading, the uPlot canvas (its legend doubles as the tooltip: it
// shows the value under the pointer), a "Show as a table" disclosure with the same numbers
// for screen readers and keyboards, and a "Download CSV" button. Widths follow the container
// (ResizeObserver), so charts stay readable at 360 px.

import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { el } from "../api.js";

const live = new Map(); // group -> Set of {plot, observer}

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** RFC 4180 CSV; cells that a spreadsheet would run as a formula are prefixed with '. */
export function toCsv(columns, rows) {
  const cell = (v) => {
    let s = v === null || v === undefined ? "" : String(v);
    if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [columns, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

/** Save bytes or text as a file (a blob: URL; nothing leaves the browser). */
export function download(name, data, type) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = el("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "table";
}

/** A table with a caption and a CSV button: {title, columns, rows (arrays of cells)}. */
export function tableBlock({ title, columns, rows, numeric = [] }) {
  const table = el(
    "table",
    { class: "data" },
    el("caption", { class: "visually-hidden" }, title),
    el("thead", {}, el("tr", {}, ...columns.map((c, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, c)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => el(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, class: numeric.includes(i) ? "num" : null }, fmtCell(c)))))),
  );
  const csv = el("button", { type: "button", class: "csv", onclick: () => download(`${slug(title)}.csv`, toCsv(columns, rows), "text/csv") }, "Download CSV");
  csv.dataset.table = title;
  return { table, csv };
}

function fmtCell(v) {
  return typeof v === "number" ? v.toLocaleString() : v ?? "";
}

/**
 * A chart with its table. points: [[label, value], ...]; x: "time" (labels are days
 * "YYYY-MM-DD") or "category"; columns: the table's two headings.
 */
export function chartBlock({ title, points, x = "category", columns, bars = true, group = "overview" }) {
  const id = `chart-${slug(title)}-${Math.random().toString(36).slice(2, 8)}`;
  const holder = el("div", { class: "chart", role: "img", "aria-label": `${title}: chart; the same numbers are in the table below.` });
  // The table is built when first opened: a daily series over years is thousands of rows.
  const details = el("details", { class: "as-table" }, el("summary", {}, "Show as a table"));
  details.addEventListener("toggle", () => {
    if (details.open && details.childElementCount === 1) details.append(tableBlock({ title, columns, rows: points, numeric: [1] }).table);
  });
  const csv = el("button", { type: "button", class: "csv", onclick: () => download(`${slug(title)}.csv`, toCsv(columns, points), "text/csv") }, "Download CSV");
  csv.dataset.table = title;
  const figure = el("figure", { class: "chart-block", id }, el("figcaption", { class: "chart-title" }, title), holder, details, csv);
  requestAnimationFrame(() => drawChart(holder, points, x, columns, bars, group));
  return figure;
}

function drawChart(holder, points, xKind, columns, bars, group) {
  if (!holder.isConnected || points.length === 0) return;
  const xs = xKind === "time" ? points.map(([d]) => Date.parse(`${d}T00:00:00Z`) / 1000) : points.map((_, i) => i);
  const ys = points.map(([, v]) => v);
  const accent = cssVar("--accent", "#3b47c4");
  const muted = cssVar("--muted", "#555");
  const line = cssVar("--line", "#ddd");
  const width = () => Math.max(240, holder.clientWidth || 320);
  const labels = points.map(([l]) => l);
  const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line } };
  const opts = {
    width: width(),
    height: 220,
    title: undefined,
    scales: {
      x: xKind === "time" ? { time: true } : { time: false, range: [-0.5, points.length - 0.5] },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] }, // bars start at zero
    },
    axes: [
      xKind === "time" ? axis : { ...axis, values: (_u, ticks) => ticks.map((t) => labels[t] ?? ""), splits: (u) => categorySplits(u, labels) },
      { ...axis, size: 56 },
    ],
    series: [
      xKind === "time" ? { label: columns[0], value: (_u, v) => (v == null ? "" : new Date(v * 1000).toISOString().slice(0, 10)) } : { label: columns[0], value: (_u, v) => (v == null ? "" : labels[v] ?? "") },
      { label: columns[1], stroke: accent, fill: `${accent}55`, width: 1, paths: bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined, points: { show: false } },
    ],
    legend: { live: true },
    plugins: [tooltip((i) => `${xKind === "time" ? points[i][0] : labels[i]}: ${Number(ys[i]).toLocaleString()} ${columns[1].toLowerCase()}`)],
    cursor: { drag: { x: false, y: false } },
  };
  const plot = new uPlot(opts, [xs, ys], holder);
  const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
  observer.observe(holder);
  if (!live.has(group)) live.set(group, new Set());
  live.get(group).add({ plot, observer });
}

/** A tooltip next to the bar under the pointer (decoration: the table carries the numbers). */
function tooltip(text) {
  let tip = null;
  return {
    hooks: {
      init: (u) => {
        tip = el("div", { class: "chart-tip", "aria-hidden": "true", hidden: true });
        u.over.append(tip);
      },
      setCursor: (u) => {
        const i = u.cursor.idx;
        if (i === null || i === undefined || u.data[1][i] === null || u.data[1][i] === undefined) {
          tip.hidden = true;
          return;
        }
        tip.hidden = false;
        tip.textContent = text(i);
        const x = u.valToPos(u.data[0][i], "x");
        const y = u.valToPos(u.data[1][i], "y");
        tip.style.left = `${Math.min(Math.max(x, 40), u.over.clientWidth - 40)}px`;
        tip.style.top = `${y}px`;
      },
    },
  };
}

/** Every category that fits under the plot without overlapping its neighbour's label. */
function categorySplits(u, labels) {
  const widest = Math.max(...labels.map((l) => String(l).length));
  const room = (u.bbox.width / (window.devicePixelRatio || 1)) / labels.length;
  const step = Math.max(1, Math.ceil((widest * 7 + 10) / Math.max(room, 1)));
  return labels.map((_, i) => i).filter((i) => i % step === 0);
}

/** Destroy the charts of one group (before it is drawn again). */
export function destroyCharts(group = "overview") {
  for (const { plot, observer } of live.get(group) ?? []) {
    observer.disconnect();
    plot.destroy();
  }
  live.delete(group);
}
