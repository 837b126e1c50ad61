// PDFs rendered in the page by the vendored pdf.js (static/vendor/pdfjs, loaded only here):
// one page at a time on a <canvas>, with previous / next, a page number field, zoom (out, in,
// fit width) and the keyboard (←/→, Page Up/Down, Home/End, + and -). The page's text is also
// put in a visually hidden region, for screen readers.
//
// Safety: pdf.js parses the file in its worker (served from our origin, under the page's
// strict CSP: no eval, ``isEvalSupported: false``), draws pixels only, and runs no script of the
// PDF (no scripting sandbox, no XFA, no annotation or form layer: links in it are not live).
import { el, say } from "./api.js";

const VERSION = new URL(import.meta.url).search; // the page's cache buster (?v=...)
const LIB = `/static/vendor/pdfjs/pdf.min.mjs${VERSION}`;
const WORKER = `/static/vendor/pdfjs/pdf.worker.min.mjs${VERSION}`;
const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];

/** Render the PDF at ``url`` into ``container``; resolves once page 1 is drawn (null, with a
 * sentence in ``container``, when the file cannot be opened). */
export async function showPdf(container, url, name) {
  const pdfjs = await import(LIB);
  pdfjs.GlobalWorkerOptions.workerSrc = WORKER;
  let doc;
  try {
    doc = await pdfjs.getDocument({ url, isEvalSupported: false, enableXfa: false, disableAutoFetch: true }).promise;
  } catch (err) {
    // A damaged or password-protected file: say so (not "network error"), offer the download.
    const why = err && err.name === "PasswordException" ? "it is protected by a password" : "it is damaged or not really a PDF";
    container.replaceChildren(el("p", { class: "error", role: "alert" }, `This PDF cannot be shown in the page: ${why}. Download it to open it.`));
    return null;
  }
  const count = doc.numPages;
  let current = 1;
  let zoom = null; // null: fit the width of the stage
  let task = null;
  let shown = 1; // the scale last drawn

  const canvas = el("canvas", { role: "img", class: "pdf-page" });
  const text = el("div", { class: "visually-hidden", "aria-live": "off", id: "pdf-text" });
  const stage = el("div", { class: "pdf-stage", tabindex: "0", role: "region", "aria-label": `${name}: use the arrow keys to change page, plus and minus to zoom` }, canvas, text);
  const number = el("input", { id: "pdf-page", type: "number", min: "1", max: String(count), value: "1", inputmode: "numeric" });
  const prev = el("button", { type: "button", onclick: () => go(current - 1) }, "Previous page");
  const next = el("button", { type: "button", onclick: () => go(current + 1) }, "Next page");
  const zoomOut = el("button", { type: "button", onclick: () => step(-1), "aria-label": "Zoom out" }, "−");
  const zoomIn = el("button", { type: "button", onclick: () => step(1), "aria-label": "Zoom in" }, "+");
  const fit = el("button", { type: "button", onclick: () => { zoom = null; draw(); } }, "Fit width");
  const zoomLabel = el("span", { class: "hint", id: "pdf-zoom", "aria-live": "polite" });
  const pageLabel = el("span", { id: "pdf-count" }, `of ${count}`);
  const toolbar = el("div", { class: "pdf-toolbar", role: "toolbar", "aria-label": "PDF pages and zoom" },
    prev, el("label", { for: "pdf-page" }, "Page"), number, pageLabel, next, zoomOut, zoomLabel, zoomIn, fit);
  container.replaceChildren(toolbar, stage);
  number.addEventListener("change", () => go(Number(number.value)));

  function scaleFor(page) {
    if (zoom !== null) return zoom;
    const width = page.getViewport({ scale: 1 }).width;
    return Math.max(0.25, Math.min(3, (stage.clientWidth - 24) / width));
  }

  async function draw() {
    const page = await doc.getPage(current);
    const scale = scaleFor(page);
    const viewport = page.getViewport({ scale });
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.floor(viewport.width * ratio);
    canvas.height = Math.floor(viewport.height * ratio);
    canvas.style.width = `${Math.floor(viewport.width)}px`;
    canvas.style.height = `${Math.floor(viewport.height)}px`;
    canvas.setAttribute("aria-label", `Page ${current} of ${count}`);
    if (task) task.cancel();
    task = page.render({ canvasContext: canvas.getContext("2d"), viewport, transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null });
    try {
      await task.promise;
    } catch (err) {
      if (err && err.name === "RenderingCancelledException") return;
      throw err;
    }
    task = null;
    canvas.dataset.page = String(current);
    number.value = String(current);
    prev.disabled = current <= 1;
    next.disabled = current >= count;
    shown = scale;
    zoomLabel.textContent = `${Math.round(scale * 100)} %`;
    const content = await page.getTextContent();
    text.textContent = content.items.map((i) => i.str || "").join(" ");
  }

  async function go(n) {
    const target = Math.max(1, Math.min(count, Math.round(n) || 1));
    if (target === current && canvas.dataset.page === String(target)) { number.value = String(current); return; }
    current = target;
    await draw();
    say(`Page ${current} of ${count}.`);
  }

  function step(dir) {
    const now = zoom ?? shown;
    const bigger = ZOOMS.find((z) => z > now + 0.01);
    const smaller = [...ZOOMS].reverse().find((z) => z < now - 0.01);
    zoom = dir > 0 ? bigger ?? ZOOMS[ZOOMS.length - 1] : smaller ?? ZOOMS[0];
    draw();
  }

  stage.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const keys = { ArrowRight: () => go(current + 1), PageDown: () => go(current + 1), ArrowLeft: () => go(current - 1), PageUp: () => go(current - 1), Home: () => go(1), End: () => go(count), "+": () => step(1), "=": () => step(1), "-": () => step(-1) };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  let resizeTimer = 0;
  window.addEventListener("resize", () => { if (zoom === null) { clearTimeout(resizeTimer); resizeTimer = setTimeout(draw, 150); } });
  await draw();
  return doc;
}
