"""Benchmark: analysing a large Discord Data Package vs merely decompressing it.

Usage: .venv/bin/python benchmarks/insights_analyze.py [--messages 2000000] [--events 3000000]
       [--workers N] [--out bench-out] [--runs 3]

In one run it (1) generates the synthetic package once (cached in --out), (2) times
decompressing every entry of the zip (one process, read and discard: the floor any analyser
pays), (3) times ``cordvault analyze`` in a subprocess while sampling the memory of its whole
process tree (workers included), and prints/appends the numbers as Markdown.

Memory sampling: RSS of every process of the tree every 100 ms (~0.01 ms a process). Summed
RSS counts the pages the forkserver's children share with it (copy-on-write) once per
process, so the tree's PSS (proportional set size: each shared page divided among the
processes mapping it; the sum is what the tree really occupies) and USS (pages private to one
process) are sampled too, from /proc/PID/smaps_rollup. Reading those walks the page tables
(~1.5-2.5 ms a process, ~8 ms for the tree), so they are read every ``--pss-every`` RSS samples
(default 5, i.e. every 0.5 s, <2% of one core) and additionally whenever the tree's RSS reaches
a new peak, which is where the PSS peak is. ``--pss-every 1`` reads them every 100 ms (exact
peaks, but ~8% of one core taken from the analysis: do not compare its wall time). Per-process
peaks are reported by role: main, forkserver, resource tracker, each worker (forked by the
forkserver, numbered in order of appearance).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
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


@dataclass
class MemoryPeaks:
    """Peaks of one analysis run's process tree, in bytes."""

    tree_rss: int = 0
    single_rss: int = 0
    tree_pss: int = 0
    tree_uss: int = 0
    pss_samples: int = 0
    # role -> peak RSS / PSS of that process (PSS only where it was sampled)
    role_rss: dict[str, int] = field(default_factory=dict)
    role_pss: dict[str, int] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)

    def max_with(self, other: MemoryPeaks) -> MemoryPeaks:
        """The higher of each peak of two runs."""
        roles = self.role_rss.keys() | other.role_rss.keys()
        pss_roles = self.role_pss.keys() | other.role_pss.keys()
        return MemoryPeaks(
            tree_rss=max(self.tree_rss, other.tree_rss),
            single_rss=max(self.single_rss, other.single_rss),
            tree_pss=max(self.tree_pss, other.tree_pss),
            tree_uss=max(self.tree_uss, other.tree_uss),
            pss_samples=self.pss_samples + other.pss_samples,
            role_rss={r: max(self.role_rss.get(r, 0), other.role_rss.get(r, 0)) for r in roles},
            role_pss={r: max(self.role_pss.get(r, 0), other.role_pss.get(r, 0)) for r in pss_roles},
        )

    def role_of(self, proc: psutil.Process, main_pid: int, forkserver_pid: int | None) -> str:
        role = self.roles.get(proc.pid)
        if role is not None:
            return role
        if proc.pid == main_pid:
            role = "main"
        else:
            cmdline = " ".join(proc.cmdline())
            if "resource_tracker" in cmdline:
                role = "resource tracker"
            elif "forkserver" in cmdline and proc.ppid() == main_pid:
                role = "forkserver"
            elif forkserver_pid is not None and proc.ppid() == forkserver_pid:
                role = f"worker {sum(r.startswith('worker') for r in self.roles.values()) + 1}"
            else:
                role = f"other {proc.pid}"
        self.roles[proc.pid] = role
        return role

    def sample(self, proc: psutil.Process, with_pss: bool) -> None:
        procs = [proc, *proc.children(recursive=True)]
        forkserver = next((pid for pid, role in self.roles.items() if role == "forkserver"), None)
        rss_total = pss_total = uss_total = 0
        pss_complete = with_pss
        for p in procs:
            try:
                role = self.role_of(p, proc.pid, forkserver)
                if role == "forkserver":
                    forkserver = p.pid
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            rss_total += rss
            self.single_rss = max(self.single_rss, rss)
            self.role_rss[role] = max(self.role_rss.get(role, 0), rss)
        if rss_total > self.tree_rss:
            self.tree_rss = rss_total
            with_pss = pss_complete = True
        if not with_pss:
            return
        for p in procs:
            try:
                full = p.memory_full_info()
            except psutil.Error:
                pss_complete = False
                continue
            role = self.roles.get(p.pid, f"other {p.pid}")
            pss_total += full.pss
            uss_total += full.uss
            self.role_pss[role] = max(self.role_pss.get(role, 0), full.pss)
        if pss_complete:
            self.pss_samples += 1
            self.tree_pss = max(self.tree_pss, pss_total)
            self.tree_uss = max(self.tree_uss, uss_total)


def run_analyze(
    package: Path, out: Path, workers: int | None, pss_every: int = 5
) -> tuple[float, MemoryPeaks]:
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
    peaks = MemoryPeaks()
    tick = 0
    while popen.poll() is None:
        with contextlib.suppress(psutil.Error):
            peaks.sample(proc, with_pss=tick % pss_every == 0)
        tick += 1
        time.sleep(0.1)
    elapsed = time.perf_counter() - start
    if popen.returncode != 0:
        assert popen.stderr is not None
        raise SystemExit(f"analyze failed: {popen.stderr.read().decode()}")
    return elapsed, peaks


def _role_order(role: str) -> tuple[int, str]:
    order = ["main", "forkserver", "resource tracker"]
    return (order.index(role) if role in order else len(order), role)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--variant", default="modern")
    parser.add_argument(
        "--profile",
        choices=("uniform", "realistic"),
        default="uniform",
        help="generator profile (realistic: see cordvault/insights/generator/realism.py)",
    )
    parser.add_argument(
        "--pss-every",
        type=int,
        default=5,
        help="read PSS/USS every N RSS samples (100 ms each); 1 = every sample",
    )
    parser.add_argument(
        "--skip-decompress", action="store_true", help="only run and measure the analysis"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="repeat (decompress, analyze) N times: each run's ratio is printed and the"
        " table shows medians (times and ratios) and the highest memory peaks",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.profile == "uniform" else f"-{args.profile}"
    package = args.out / f"pkg-{args.variant}-{args.messages}-{args.events}{suffix}.zip"
    if not package.exists():
        from cordvault.insights.generator import GenOptions, generate_package

        t = time.perf_counter()
        generate_package(
            package,
            GenOptions(
                variant=args.variant,
                seed=7,
                messages=args.messages,
                events=args.events,
                profile=args.profile,
            ),
        )
        print(f"generated {package} in {time.perf_counter() - t:.1f} s")
    # The machine's speed drifts (shared host): the baseline and the analysis are measured
    # back to back in each run, and the ratio is taken per run.
    decompress_runs: list[float] = []
    isal_runs: list[float] = []
    analyze_runs: list[float] = []
    raw_bytes = 0
    peaks: MemoryPeaks | None = None
    for run in range(max(1, args.runs)):
        if args.skip_decompress:
            decompress_s, isal_s = float("nan"), float("nan")
        else:
            decompress_s, raw_bytes = decompress_all(package)
            isal_s = decompress_all_isal(package)
        analyze_s, run_peaks = run_analyze(
            package, args.out / "bench.sqlite", args.workers, max(1, args.pss_every)
        )
        peaks = run_peaks if peaks is None else peaks.max_with(run_peaks)
        decompress_runs.append(decompress_s)
        isal_runs.append(isal_s)
        analyze_runs.append(analyze_s)
        print(
            f"| run {run + 1} | zlib {decompress_s:.1f} s, ISA-L {isal_s:.1f} s, "
            f"analyze {analyze_s:.1f} s, ratio {analyze_s / decompress_s:.2f} |"
        )
    assert peaks is not None
    decompress_s = statistics.median(decompress_runs)
    isal_s = statistics.median(isal_runs)
    analyze_s = statistics.median(analyze_runs)
    ratio = statistics.median(a / d for a, d in zip(analyze_runs, decompress_runs, strict=True))
    isal_ratio = statistics.median(a / d for a, d in zip(analyze_runs, isal_runs, strict=True))
    peak_tree, peak_single = peaks.tree_rss, peaks.single_rss
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
        f"| ratio analyze / zlib decompress | {ratio:.2f} |",
        f"| ratio analyze / ISA-L decompress | {isal_ratio:.2f} |",
        f"| peak RSS, whole process tree | {peak_tree / 1e6:.0f} MB |",
        f"| peak RSS, largest single process | {peak_single / 1e6:.0f} MB |",
        f"| output SQLite | {sqlite_bytes / 1e6:.1f} MB |",
        f"| peak PSS, whole process tree | {peaks.tree_pss / 1e6:.0f} MB "
        f"({peaks.pss_samples} samples, every {max(1, args.pss_every) * 100} ms"
        " and at each new RSS peak) |",
        f"| peak USS, whole process tree | {peaks.tree_uss / 1e6:.0f} MB |",
    ]
    for role in sorted(peaks.role_rss, key=_role_order):
        pss = peaks.role_pss.get(role)
        pss_text = f", PSS {pss / 1e6:.0f} MB" if pss is not None else ""
        lines.append(f"| peak RSS, {role} | {peaks.role_rss[role] / 1e6:.0f} MB{pss_text} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
