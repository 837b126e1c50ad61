"""The preview renderer: a short-lived child process that turns one file into two JPEGs.

Run as ``python -m cordvault.drive.previews.render KIND SOURCE OUTDIR MAX_PIXELS MEMORY CPU``
by :mod:`cordvault.drive.previews.service` (in a thumbnail job), never in the server
process: decoders are the most exposed code we run (any user uploads the input), so each
run gets its own address space with hard limits set before any decoder is imported
(``RLIMIT_AS`` = ``MEMORY`` bytes, ``RLIMIT_CPU`` = ``CPU`` seconds, no core dumps) and a
wall-clock timeout from the parent. A crash, a limit or a hostile file ends this process only;
the worker records "no preview".

Kinds and decoders:

- ``image``: Pillow (JPEG, PNG, GIF and WebP first frame, BMP, TIFF, AVIF; HEIC/HEIF through
  ``pillow-heif``). Decompression bombs: the header's ``width * height`` is checked against
  ``MAX_PIXELS`` before any pixel is decoded (Pillow's own ``MAX_IMAGE_PIXELS`` is set to the
  same number as a second line), JPEGs decode at a reduced scale (``draft``).
- ``video``: PyAV, whose wheels carry FFmpeg's libraries (no system package, the same build on
  every machine, and an API that lets us inspect the streams before decoding: a container with
  more than :data:`MAX_STREAMS` streams, or a frame size over ``MAX_PIXELS``, is refused). One
  decoding thread; the first decodable frame at or after 10 % of the duration (the first frame
  is often black), else the first frame.
- ``pdf``: pypdfium2 (PDFium, as in Chromium), first page rendered at the grid size.

Output: ``OUTDIR/list.jpg`` (longest edge :data:`LIST_EDGE` px) and ``OUTDIR/grid.jpg``
(:data:`GRID_EDGE` px), RGB, EXIF orientation applied, metadata stripped. Exit status 0 when
both exist; 3 for "this file has no preview" (unsupported, refused, corrupt), anything else
for a crash.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any

LIST_EDGE = 160
GRID_EDGE = 480
MAX_STREAMS = 32
MAX_VIDEO_PACKETS = 2000
"""Packets demuxed while looking for one decodable frame before giving up."""
NO_PREVIEW = 3


class Refused(Exception):
    """The input has no preview (unsupported, hostile or corrupt): exit :data:`NO_PREVIEW`."""


def _limit(memory: int, cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise Refused(f"{width}x{height} exceeds the pixel limit")


def _open_image(source: Path, max_pixels: int) -> Any:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # optional: HEIC/HEIF previews need pillow-heif
        pass
    im = Image.open(source)
    _check_pixels(im.width, im.height, max_pixels)
    if im.format == "JPEG":
        im.draft("RGB", (GRID_EDGE * 2, GRID_EDGE * 2))
    im.seek(0)
    im.load()
    return ImageOps.exif_transpose(im)


def _open_video(source: Path, max_pixels: int) -> Any:
    import av

    with av.open(str(source), metadata_errors="ignore") as container:
        if len(container.streams) > MAX_STREAMS:
            raise Refused("too many streams")
        videos = list(container.streams.video)
        if not videos:
            raise Refused("no video stream")
        stream = videos[0]
        ctx = stream.codec_context
        _check_pixels(ctx.width, ctx.height, max_pixels)
        stream.thread_type = "SLICE"
        ctx.thread_count = 1
        if container.duration and container.duration > 0:
            try:
                container.seek(container.duration // 10, any_frame=False, backward=True)
            except av.FFmpegError:
                container.seek(0)
        for n, packet in enumerate(container.demux(stream)):
            if n >= MAX_VIDEO_PACKETS:
                break
            for frame in packet.decode():
                _check_pixels(frame.width, frame.height, max_pixels)
                return frame.to_image()  # type: ignore[no-untyped-call]
    raise Refused("no decodable frame")


def _open_pdf(source: Path, max_pixels: int) -> Any:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(source))
    try:
        if len(pdf) < 1:
            raise Refused("no pages")
        page = pdf[0]
        width, height = page.get_size()
        if not (0 < width < 100_000 and 0 < height < 100_000):
            raise Refused("implausible page size")
        scale = GRID_EDGE / max(width, height)
        _check_pixels(int(width * scale) + 1, int(height * scale) + 1, max_pixels)
        return page.render(scale=scale).to_pil()
    finally:
        pdf.close()


def render(kind: str, source: Path, outdir: Path, max_pixels: int) -> None:
    """Write ``list.jpg`` and ``grid.jpg`` for ``source`` into ``outdir`` (:class:`Refused`
    when the input has no preview)."""
    from PIL import Image

    opener = {"image": _open_image, "video": _open_video, "pdf": _open_pdf}.get(kind)
    if opener is None:
        raise Refused(f"unknown kind {kind!r}")
    try:
        im = opener(source, max_pixels)
    except Refused:
        raise
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise Refused(type(exc).__name__) from None
    except Exception as exc:  # decoder-specific errors (av.FFmpegError, pdfium's PdfiumError)
        if type(exc).__module__.split(".", 1)[0] in ("av", "pypdfium2", "pypdfium2_raw"):
            raise Refused(type(exc).__name__) from None
        raise
    if im.mode not in ("RGB", "L"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        rgba = im.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        im = background
    for name, edge in (("grid", GRID_EDGE), ("list", LIST_EDGE)):
        im.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        im.convert("RGB").save(outdir / f"{name}.jpg", "JPEG", quality=82, optimize=True)


def main(argv: list[str]) -> int:
    kind, source, outdir = argv[0], Path(argv[1]), Path(argv[2])
    max_pixels, memory, cpu = int(argv[3]), int(argv[4]), int(argv[5])
    _limit(memory, cpu)
    try:
        render(kind, source, outdir, max_pixels)
    except Refused as exc:
        print(f"no preview: {exc}", file=sys.stderr)
        return NO_PREVIEW
    except MemoryError:
        print("no preview: memory limit", file=sys.stderr)
        return NO_PREVIEW
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
