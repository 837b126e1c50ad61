"""Benchmark: thumbnail throughput for 12 MP JPEGs and a 1080p video; peak memory per job.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/thumbnails.py [--jpegs 8] [--video-seconds 6]
       [--workers 1 2] [--json]

Inputs (made here, deterministic): ``--jpegs`` 4000 x 3000 JPEGs (quality 90, a gradient with
noise and shapes so that they compress like photos, ~3-4 MB each) and one 1920 x 1080 H.264
MP4 (25 fps, ``--video-seconds`` long, moving content).

Two measurements:

1. **Renderer job** (what bounds a job's memory): the renderer child exactly as a worker runs it
   (``python -m cordvault.drive.previews.render`` with the default ``PREVIEW_*`` limits),
   started with ``Popen`` and reaped with ``os.wait4`` (CPU, wall time); the child reports
   its own peak RSS (``VmHWM`` at exit).
2. **End to end** (what a deployment gets): the files are uploaded to a drive (local chunk
   store, SQLite, encrypted as usual), then ``--workers`` threads make every thumbnail through
   the job code (:func:`cordvault.drive.previews.service.run_pending`: claim, decrypt to a
   temporary file, render in the limited child, encrypt and store both sizes, announce):
   files per second.

Prints Markdown tables for docs/benchmarks.md ("Thumbnails").
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def make_jpeg(seed: int) -> bytes:
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    size = (4000, 3000)
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    noise = Image.effect_noise(size, 40).convert("RGB")
    img = Image.blend(base, noise, 0.35)
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randrange(40, 400)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def make_video(seconds: float) -> bytes:
    import av
    from PIL import Image, ImageDraw

    buf = io.BytesIO()
    fps = 25
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        background = Image.linear_gradient("L").resize((1920, 1080)).convert("RGB")
        for i in range(int(seconds * fps)):
            frame_img = background.copy()
            draw = ImageDraw.Draw(frame_img)
            x = (i * 17) % 1700
            draw.rectangle((x, 300, x + 220, 700), fill=(200, 40 + i % 200, 90))
            frame = av.VideoFrame.from_image(frame_img)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def render_job(kind: str, source: Path, outdir: Path) -> dict[str, float]:
    """One renderer child with the default limits; wall s, CPU s, peak RSS MiB."""
    from cordvault.core.settings import Settings
    from cordvault.drive.previews import render

    s = Settings()
    cpu = max(1, int(s.preview_timeout_seconds) + 1)
    args = [kind, str(source), str(outdir)]
    args += [str(s.preview_max_pixels), str(s.preview_memory_bytes), str(cpu)]
    hwm = outdir / "vmhwm"
    # The same module and arguments, wrapped so that the child reports its own peak RSS
    # (VmHWM belongs to the exec'd image; ru_maxrss would include this big parent's pages).
    argv = [sys.executable, "-c", _WRAPPER, render.__name__, str(hwm), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"renderer failed on {source.name}: {proc.returncode}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": int(hwm.read_text()) / 1024,
    }


_WRAPPER = """
import atexit, runpy, sys
module, hwm = sys.argv[1], sys.argv[2]
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(hwm, "w").write(line.split()[1])
atexit.register(report)
sys.argv = [module, *sys.argv[3:]]
runpy.run_module(module, run_name="__main__")
"""


def summarize(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        "jobs": len(runs),
        "wall_s_median": round(statistics.median(r["wall_s"] for r in runs), 3),
        "cpu_s_median": round(statistics.median(r["cpu_s"] for r in runs), 3),
        "peak_rss_mib_max": round(max(r["peak_rss_mib"] for r in runs), 1),
        "peak_rss_mib_median": round(statistics.median(r["peak_rss_mib"] for r in runs), 1),
    }


def end_to_end(tmp: Path, files: dict[str, bytes], workers: int) -> dict[str, Any]:
    """Upload ``files`` to a fresh drive, then make their thumbnails with ``workers`` threads."""
    from fastapi.testclient import TestClient

    from cordvault.core.settings import Settings
    from cordvault.drive.previews.service import run_pending
    from cordvault.runtime import build_services
    from cordvault.web.app import create_app

    data = tmp / f"data-{workers}"
    data.mkdir(mode=0o700)
    settings = Settings(data_dir=data, storage_backend="local", preview_workers=0)
    app = create_app(settings, domains=("cordvault.web.drive",))
    with TestClient(app) as client:
        r = client.post("/api/auth/register", json={"name": "bench", "password": "x" * 16})
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        for name, body in files.items():
            r = client.put(
                "/api/drive/upload", params={"path": f"/{name}"}, content=body, headers=headers
            )
            r.raise_for_status()
    with build_services(settings) as services:
        ctx = services.drive
        counts: dict[str, int] = {}
        lock = threading.Lock()

        def loop() -> None:
            while done := run_pending(ctx, limit=1):
                with lock:
                    for k, v in done.items():
                        counts[k] = counts.get(k, 0) + v

        start = time.perf_counter()
        cpu0 = time.process_time()
        children0 = os.times()
        threads = [threading.Thread(target=loop) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        children1 = os.times()
        parent_cpu = time.process_time() - cpu0
    child_cpu = (children1.children_user - children0.children_user) + (
        children1.children_system - children0.children_system
    )
    return {
        "workers": workers,
        "files": len(files),
        "outcomes": counts,
        "seconds": round(elapsed, 2),
        "files_per_s": round(len(files) / elapsed, 2),
        "worker_cpu_s": round(parent_cpu, 2),
        "renderer_cpu_s": round(child_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jpegs", type=int, default=8)
    parser.add_argument("--video-seconds", type=float, default=6.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"load_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        jpegs = {f"photo-{i}.jpg": make_jpeg(i) for i in range(args.jpegs)}
        video = make_video(args.video_seconds)
        result["jpeg_mb_median"] = round(statistics.median(len(b) for b in jpegs.values()) / 1e6, 2)
        result["video_mb"] = round(len(video) / 1e6, 2)
        for name, body in {**jpegs, "clip.mp4": video}.items():
            (tmp / name).write_bytes(body)
        image_runs, video_runs = [], []
        for name in jpegs:
            out = tmp / f"out-{name}"
            out.mkdir()
            image_runs.append(render_job("image", tmp / name, out))
        for i in range(3):
            out = tmp / f"out-video-{i}"
            out.mkdir()
            video_runs.append(render_job("video", tmp / "clip.mp4", out))
        result["renderer_12mp_jpeg"] = summarize(image_runs)
        result["renderer_1080p_video"] = summarize(video_runs)
        mixed = {**jpegs, "clip.mp4": video}
        result["end_to_end"] = [end_to_end(tmp, mixed, w) for w in args.workers]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("| renderer job | jobs | wall (median) | CPU (median) | peak RSS (median / max) |")
    print("|---|---|---|---|---|")
    for key, label in (("renderer_12mp_jpeg", "12 MP JPEG"), ("renderer_1080p_video", "1080p")):
        r = result[key]
        print(
            f"| {label} | {r['jobs']} | {r['wall_s_median']} s | {r['cpu_s_median']} s | "
            f"{r['peak_rss_mib_median']} / {r['peak_rss_mib_max']} MiB |"
        )
    print("\n| end to end | files | seconds | files/s | worker CPU | renderer CPU |")
    print("|---|---|---|---|---|---|")
    for r in result["end_to_end"]:
        print(
            f"| {r['workers']} worker(s) | {r['files']} | {r['seconds']} | {r['files_per_s']} | "
            f"{r['worker_cpu_s']} s | {r['renderer_cpu_s']} s |"
        )
    print(f"\nload average before/after: {result['load_before']} / {result['load_after']}")


if __name__ == "__main__":
    main()
