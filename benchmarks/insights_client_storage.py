"""Benchmark: what the Dumpus app does with our results database, old layout vs new.

Usage: .venv/bin/python benchmarks/insights_client_storage.py [--messages 2000000]
       [--events 3000000] [--profile realistic|uniform] [--rounds 3] [--out bench-out]
       [--js-encode]

Needs ``npm install`` in ``benchmarks/js`` (sql.js and lz-string, the versions the app pins).
It (1) generates the synthetic package (cached in --out), (2) analyses it with this checkout
(``cordvault analyze``; the file the app receives), (3) rebuilds the same rows in the previous
``cordvault-1`` layout (``tests/insights/test_client_layout.py:legacy_copy``), (4) lists every
query the app runs for the four time ranges (``tests/insights/dumpus_queries.py``), and
(5) runs ``benchmarks/js/client_bench.mjs`` under node: for each file, the exact length of
``LZString.compressToUTF16(JSON.stringify(Array.from(bytes)))`` (what the app stores in
localStorage), the sql.js open time, the time of all the queries on a fresh database (best
and median of --rounds) and whether both files give the same rows for every query.
The stored length is computed with the Python port the tests use
(``tests/insights/client_storage.py``, exact); ``--js-encode`` also has the JavaScript library
encode each file and checks both numbers are equal.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.insights.client_storage import CHROMIUM_QUOTA, WEBKIT_QUOTA, stored_chars  # noqa: E402
from tests.insights.dumpus_queries import TIME_RANGES, client_queries  # noqa: E402
from tests.insights.test_client_layout import legacy_copy  # noqa: E402

from cordvault.insights.generator import GenOptions, generate_package  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--profile", choices=("realistic", "uniform"), default="realistic")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument(
        "--js-encode",
        action="store_true",
        help="also encode with the JavaScript library (slow: ~10 min for a 60 MB file)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.profile}-{args.messages}-{args.events}"
    package = args.out / f"{stem}.zip"
    if not package.exists():
        options = GenOptions(seed=7, messages=args.messages, events=args.events,
                             compress_level=1, profile=args.profile)  # fmt: skip
        generate_package(package, options)
    new = args.out / f"{stem}.sqlite"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cordvault", "analyze", str(package), "-o", str(new),
                    "--no-report"], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    analyse_s = time.perf_counter() - started
    old = args.out / f"{stem}.cordvault-1.sqlite"
    old.unlink(missing_ok=True)
    legacy_copy(new, old)

    queries: list[tuple[str, str]] = []
    with sqlite3.connect(new) as conn:
        activity_rows = conn.execute("SELECT count(*) FROM activity").fetchone()[0]
        for time_range in TIME_RANGES:
            queries += [(f"{time_range}:{n}", q) for n, q in client_queries(conn, time_range)]
    # package_version names the layout (cordvault-1 / -2): compare the rest of that row.
    queries = [(n, q.replace("*", "package_id, package_owner_id, package_owner_name")
                if n.endswith(":packageData") else q) for n, q in queries]  # fmt: skip
    queries_path = args.out / f"{stem}.queries.json"
    queries_path.write_text(json.dumps(queries))
    env = {**os.environ, "ENCODE": "1" if args.js_encode else "0"}
    node = subprocess.run(
        ["node", "--max-old-space-size=8192", str(ROOT / "benchmarks/js/client_bench.mjs"),
         str(queries_path), str(args.rounds), str(old), str(new)],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    result = json.loads(node.stdout)
    print(f"## {args.profile}, {args.messages:,} messages, {args.events:,} events")
    print(f"analysis {analyse_s:.1f} s, {activity_rows:,} activity rows, "
          f"{result['queries']} queries ({len(TIME_RANGES)} time ranges), "
          f"sql.js SQLite {result['sqlite']}")  # fmt: skip
    print("| layout | bytes | stored chars | vs WebKit 2.62 M | vs 5 Mi | sql.js open | "
          "queries best / median | same rows |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for label, path in (("cordvault-1", old), ("cordvault-2", new)):
        r = result["files"][str(path)]
        chars = stored_chars(path.read_bytes())
        if r["stored_chars"] is not None:
            assert r["stored_chars"] == chars, (path, r["stored_chars"], chars)
        differing = r["differing_from_first"]
        same = "reference" if path == old else f"NO: {differing[:5]}" if differing else "yes"
        print(f"| {label} | {r['bytes']:,} | {chars:,} | {1 - chars / WEBKIT_QUOTA:+.1%} | "
              f"{1 - chars / CHROMIUM_QUOTA:+.1%} | {r['open_ms']} ms | "
              f"{r['queries_ms_best']} / {r['queries_ms_median']} ms | {same} |")  # fmt: skip
    print(slowest_changes(result, old, new, [n for n, _ in queries]))


def slowest_changes(result: dict[str, Any], old: Path, new: Path, names: list[str]) -> str:
    """The queries whose median time grew most from ``old`` to ``new`` (and shrank most)."""
    before = result["files"][str(old)]["per_query_ms"]
    after = result["files"][str(new)]["per_query_ms"]
    deltas = sorted(zip((a - b for a, b in zip(after, before, strict=True)), names, before, after,
                        strict=True))  # fmt: skip
    worse = [f"{n} {b} -> {a} ms" for d, n, b, a in reversed(deltas[-5:]) if d > 0]
    better = [f"{n} {b} -> {a} ms" for d, n, b, a in deltas[:3] if d < 0]
    return f"most slowed: {worse or 'none'}; most sped up: {better}"


if __name__ == "__main__":
    main()
