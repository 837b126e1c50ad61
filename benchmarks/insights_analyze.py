"""Benchmark: analysing a large Discord Data Package vs merely decompressing it.

Usage: .venv/bin/python benchmarks/insights_analyze.py [--messages 2000000] [--events 3000000]
       [--workers N] [--out bench-out]

In one run it (1) generates the synthetic package once (cached in --out), (2) times
decompressing every entry of the zip (one process, read and discard: the floor any analyser
pays), (3) times ``cordvault analyze`` in a subprocess while sampling the RSS of its whole
process tree (workers included) every 20 ms, and prints/appends the numbers as Markdown.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import psutil


def decompress_all(path: Path) -> tuple[float, int]:
    """zipfile + zlib, one process: what "merely decompressing" costs the usual way."""
    start = time.perf_counter()
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as fh:
                while chunk := fh.read(4 << 20):
                    total += len(chunk)
    return time.perf_counter() - start, total


def decompress_all_isal(path: Path) -> float:
    """The same with the ISA-L inflater cordvault uses (the stricter floor)."""
    from cordvault.insights.package.zipsource import iter_blocks

    start = time.perf_counter()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            for _block in iter_blocks(zf, info.filename):
                pass
    return time.perf_counter() - start


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_analyze(package: Path, out: Path, workers: int | None) -> tuple[float, int, int]:
    cmd = [
        sys.executable,
        "-m",
        "cordvault",
        "analyze",
        str(package),
        "-o",
        str(out),
        "--no-report",
    ]
    if workers:
        cmd += ["--workers", str(workers)]
    start = time.perf_counter()
    popen = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc = psutil.Process(popen.pid)
    peak_tree = peak_single = 0
    while popen.poll() is None:
        try:
            peak_tree = max(peak_tree, tree_rss(proc))
            for p in [proc, *proc.children(recursive=True)]:
                peak_single = max(peak_single, p.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    if popen.returncode != 0:
        assert popen.stderr is not None
        raise SystemExit(f"analyze failed: {popen.stderr.read().decode()}")
    return elapsed, peak_tree, peak_single


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--variant", default="modern")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    package = args.out / f"pkg-{args.variant}-{args.messages}-{args.events}.zip"
    if not package.exists():
        from cordvault.insights.generator import GenOptions, generate_package

        t = time.perf_counter()
        generate_package(
            package,
            GenOptions(variant=args.variant, seed=7, messages=args.messages, events=args.events),
        )
        print(f"generated {package} in {time.perf_counter() - t:.1f} s")
    decompress_s, raw_bytes = decompress_all(package)
    isal_s = decompress_all_isal(package)
    analyze_s, peak_tree, peak_single = run_analyze(
        package, args.out / "bench.sqlite", args.workers
    )
    sqlite_bytes = (args.out / "bench.sqlite").stat().st_size
    zip_bytes = package.stat().st_size
    lines = [
        f"| package | {args.messages:,} messages, {args.events:,} events, "
        f"{zip_bytes / 1e9:.2f} GB zip, {raw_bytes / 1e9:.2f} GB uncompressed |",
        f"| decompress every entry (1 process) | {decompress_s:.1f} s "
        f"({raw_bytes / 1e6 / decompress_s:.0f} MB/s) |",
        f"| decompress every entry with ISA-L (1 process) | {isal_s:.1f} s "
        f"({raw_bytes / 1e6 / isal_s:.0f} MB/s) |",
        f"| cordvault analyze (workers={args.workers or 'auto'}) | {analyze_s:.1f} s |",
        f"| ratio analyze / zlib decompress | {analyze_s / decompress_s:.2f} |",
        f"| ratio analyze / ISA-L decompress | {analyze_s / isal_s:.2f} |",
        f"| peak RSS, whole process tree | {peak_tree / 1e6:.0f} MB |",
        f"| peak RSS, largest single process | {peak_single / 1e6:.0f} MB |",
        f"| output SQLite | {sqlite_bytes / 1e6:.1f} MB |",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
