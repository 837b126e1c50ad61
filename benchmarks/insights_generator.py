"""Benchmark: the synthetic Discord Data Package generator (speed and peak memory).

Usage: .venv/bin/python benchmarks/insights_generator.py [--messages 2000000]
       [--events 3000000] [--level 1] [--variant modern] [--out bench-out]

Runs one ``generate_package`` in this process, times the message and analytics stages from
the progress callback, and prints a Markdown row: messages/s, events/s, total wall time,
uncompressed and zip sizes, expected.json size and the process's peak RSS (ru_maxrss).
Run it once per configuration so each peak RSS is its own.
"""

from __future__ import annotations

import argparse
import resource
import time
import zipfile
from pathlib import Path

from cordvault.insights.generator import GenOptions, generate_package


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--variant", default="modern")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    package = args.out / f"gen-{args.variant}-{args.level}.zip"
    expected = package.with_suffix(".expected.json")
    spans: dict[str, list[float]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        span = spans.setdefault(stage, [now, now])
        span[1] = now

    options = GenOptions(args.variant, 1, args.messages, args.events, args.level)
    start = time.perf_counter()
    generate_package(package, options, expected, progress)
    wall = time.perf_counter() - start
    with zipfile.ZipFile(package) as zf:
        raw = sum(i.file_size for i in zf.infolist())
    msg = spans["messages"]
    ev = spans.get("analytics", [0.0, 0.0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "| messages | events | level | messages/s | events/s | wall | uncompressed | zip |"
        " expected.json | peak RSS |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    print(
        f"| {args.messages:,} | {args.events:,} | {args.level} "
        f"| {args.messages / max(msg[1] - msg[0], 1e-9):,.0f} "
        f"| {args.events / max(ev[1] - ev[0], 1e-9):,.0f} | {wall:.1f} s "
        f"| {raw / 1e9:.2f} GB | {package.stat().st_size / 1e6:,.0f} MB "
        f"| {expected.stat().st_size / 1e6:,.0f} MB | {peak:,.0f} MB |"
    )


if __name__ == "__main__":
    main()
