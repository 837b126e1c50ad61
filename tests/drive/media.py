"""Small media files made on the spot (and hostile ones) for the thumbnail tests."""

from __future__ import annotations

import io
import struct
import zlib

import av
import pypdfium2 as pdfium
from PIL import Image


def image(fmt: str, size: tuple[int, int] = (640, 480), mode: str = "RGB") -> bytes:
    im = Image.new(mode, size, (200, 40, 40, 128) if mode == "RGBA" else (200, 40, 40))
    buf = io.BytesIO()
    if fmt == "GIF":
        frames = [im.convert("P"), Image.new("RGB", size, (0, 0, 255)).convert("P")]
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    elif fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
        im.save(buf, "HEIF")
    else:
        im.save(buf, fmt)
    return buf.getvalue()


def video(streams: int = 1, size: tuple[int, int] = (320, 240), frames: int = 10) -> bytes:
    """An MPEG-4 video (mp4 with one stream, else NUT with ``streams`` video streams)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4" if streams == 1 else "nut") as out:
        outs = []
        for _ in range(streams):
            s = out.add_stream("mpeg4", rate=10)
            s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
            outs.append(s)
        for i in range(frames if streams == 1 else 1):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (i * 20, 120, 60)))
            for s in outs:
                for packet in s.encode(frame):
                    out.mux(packet)
        for s in outs:
            for packet in s.encode():
                out.mux(packet)
    return buf.getvalue()


def pdf() -> bytes:
    doc = pdfium.PdfDocument.new()
    doc.new_page(595, 842)
    buf = io.BytesIO()
    doc.save(buf)
    doc.close()
    return buf.getvalue()


LOOPING_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >> endobj\n"
    b"3 0 obj << /Type /Pages /Kids [2 0 R] /Parent 2 0 R /Count 1 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
"""A page tree that contains itself."""


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (10 G by default)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
