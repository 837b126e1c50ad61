"""PDFs in the viewer (issue 10): drawn in the page by the vendored pdf.js under the page's
strict CSP (no eval, worker from our origin, nothing from another origin), with page
navigation by button and keyboard and zoom; a script inside the PDF never runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from tests.web.pages.conftest import ContextFactory, Live, sign_in, upload_bytes

pytestmark = pytest.mark.browser


def two_page_pdf() -> bytes:
    """A hand-written 2-page PDF: page 1 filled red, page 2 blue, each with a line of text,
    and an OpenAction JavaScript that would change the title and alert if it ever ran."""
    pages = [b"1 0 0 rg 20 20 572 752 re f", b"0 0 1 rg 20 20 572 752 re f"]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R 7 0 R] /Count 2 >>",
        b"<< /S /JavaScript /JS (app.alert('pdf script ran'); document.title='pwned';) >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for n, fill in enumerate(pages, start=1):
        stream = fill + b" 0 g BT /F1 36 Tf 72 700 Td (Page " + str(n).encode() + b") Tj ET"
        page_no = len(objects) + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font"
            b" << /F1 4 0 R >> >> /Contents " + str(page_no + 1).encode() + b" 0 R >>"
        )
        objects.append(
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += str(i).encode() + b" 0 obj\n" + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size " + str(len(objects) + 1).encode() + b" /Root 1 0 R >>\n"
    out += b"startxref\n" + str(xref).encode() + b"\n%%EOF\n"
    return bytes(out)


_CENTRE = """() => {
  const c = document.querySelector('canvas.pdf-page');
  const ctx = c.getContext('2d');
  const d = ctx.getImageData(Math.floor(c.width / 2), Math.floor(c.height / 2), 1, 1).data;
  const all = ctx.getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 0; i < all.length; i += 4 * 97) {
    if (all[i] < 250 || all[i + 1] < 250 || all[i + 2] < 250) painted++;
  }
  return { r: d[0], g: d[1], b: d[2], painted, width: c.width };
}"""


def _centre(page: Page) -> dict[str, int]:
    result: dict[str, int] = page.evaluate(_CENTRE)
    return result


def test_pdf_renders_inline_pages_zoom_keyboard_and_no_script(
    live: Live, context_factory: ContextFactory
) -> None:
    token = live.user("paula")
    with live.api(token) as c:
        c.post("/api/drive/mkdir", params={"path": "/docs"}).raise_for_status()
    pdf = upload_bytes(live, token, "/docs/two.pdf", two_page_pdf())
    assert pdf["mime_type"] == "application/pdf"

    page = context_factory().new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    sign_in(page, live.base, "paula")
    page.goto(f"{live.base}/drive?path=/docs")
    page.get_by_role("link", name="two.pdf").click()

    canvas = page.get_by_role("img", name="Page 1 of 2")
    expect(canvas).to_be_visible()
    expect(page.locator("canvas.pdf-page")).to_have_attribute("data-page", "1")
    first = _centre(page)
    assert first["painted"] > 100, first
    assert first["r"] > 200, first  # red
    assert max(first["g"], first["b"]) < 60, first
    expect(page.locator("#pdf-text")).to_contain_text("Page 1")
    expect(page.get_by_label("Page", exact=True)).to_have_value("1")
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()

    page.get_by_role("button", name="Next page").click()
    expect(page.locator("canvas.pdf-page")).to_have_attribute("data-page", "2")
    expect(page.get_by_role("img", name="Page 2 of 2")).to_be_visible()
    second = _centre(page)
    assert second["b"] > 200, second  # blue
    assert max(second["r"], second["g"]) < 60, second
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    expect(page.get_by_role("status")).to_contain_text("Page 2 of 2.")

    # Keyboard: the page stage takes arrows and +/-.
    page.get_by_role("region", name="two.pdf: use the arrow keys").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("canvas.pdf-page")).to_have_attribute("data-page", "1")
    page.keyboard.press("End")
    expect(page.locator("canvas.pdf-page")).to_have_attribute("data-page", "2")
    page.keyboard.press("Home")
    expect(page.locator("canvas.pdf-page")).to_have_attribute("data-page", "1")
    width = _centre(page)["width"]
    zoom = page.locator("#pdf-zoom").inner_text()
    page.keyboard.press("+")
    expect(page.locator("#pdf-zoom")).not_to_have_text(zoom)
    page.wait_for_function(f"() => document.querySelector('canvas.pdf-page').width > {width}")
    page.get_by_role("button", name="Zoom out").click()
    page.get_by_role("button", name="Zoom out").click()
    page.wait_for_function(f"() => document.querySelector('canvas.pdf-page').width < {width}")
    page.get_by_label("Page", exact=True).fill("2")
    page.get_by_label("Page", exact=True).press("Enter")
    expect(page.locator("canvas.pdf-page")).to_have_attribute("data-page", "2")

    # pdf.js came from our origin, only on this page; the PDF's script never ran.
    assert any("/static/vendor/pdfjs/pdf.worker.min.mjs" in u for u in requests)
    assert all(u.startswith((live.base, "data:", "blob:")) for u in requests)
    assert not dialogs
    assert "pwned" not in page.title()
    assert not [m for m in console if "Content Security Policy" in m or "unsafe-eval" in m], console


def test_a_damaged_pdf_says_so(live: Live, context_factory: ContextFactory) -> None:
    token = live.user("petra")
    with live.api(token) as c:
        c.post("/api/drive/mkdir", params={"path": "/bad"}).raise_for_status()
    bad = upload_bytes(live, token, "/bad/broken.pdf", b"%PDF-1.4\nnot really a pdf\n")
    page = context_factory().new_page()
    sign_in(page, live.base, "petra")
    page.goto(f"{live.base}/view/{bad['id']}")
    expect(page.locator("#preview").get_by_role("alert")).to_have_text(
        "This PDF cannot be shown in the page: it is damaged or not really a PDF."
        " Download it to open it."
    )
    expect(page.get_by_role("link", name="Download")).to_be_visible()


def test_pdf_js_is_loaded_only_for_pdfs(live: Live, context_factory: ContextFactory) -> None:
    token = live.user("paul")
    with live.api(token) as c:
        c.post("/api/drive/mkdir", params={"path": "/plain"}).raise_for_status()
    note = upload_bytes(live, token, "/plain/note.txt", b"just text\n")
    page = context_factory().new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    sign_in(page, live.base, "paul")
    page.goto(f"{live.base}/view/{note['id']}")
    expect(page.locator(".text-preview")).to_have_text("just text\n")
    assert not [u for u in requests if "pdfjs" in u or "pdf_view" in u]
