"""The dashboard's server-side lookups: ``/process/<id>/user/<uid>/avatar`` (cached and first
fetch) and ``/insights/typical-durations``.

Starts ``cordvault serve`` (uvicorn, SQLite) in a subprocess with the Discord emulator (in this
process) as API and CDN, uploads a small generated package (analysed before anything is
measured: the routes need a known package), then:

1. times the first avatar fetches (user lookup + CDN fetch + checks) of ``--users`` users;
2. ``wrk`` on one cached avatar and on ``/insights/typical-durations`` (``--connections``
   connections, keep-alive), reporting requests/s, latency percentiles and the server's CPU
   seconds per 1,000 requests (``/proc/<pid>/stat``: load distorts it least).

Usage: ``.venv/bin/python benchmarks/insights_avatars.py``. Numbers go in docs/benchmarks.md,
"Insights dashboard (issue 11)".
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx
from insights_server import cordvault_serve, new_upn, wait_processed, wrk

from cordvault.discord.emulator import EmulatorConfig, running_emulator
from cordvault.insights.generator import GenOptions, generate_package

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    config = EmulatorConfig()
    ids = [str(1_100_000_000_000_000_000 + n * 4_194_304) for n in range(args.users)]
    for n, uid in enumerate(ids):
        config.users[uid] = {
            "username": f"u{n}",
            "global_name": f"User {n}",
            "avatar": f"{n:032x}" if n % 2 == 0 else None,
            "discriminator": "0",
        }
    data_dir = Path(tempfile.mkdtemp(prefix="cv-bench-avatars-"))
    with running_emulator(config) as emu:
        settings = {
            "DATABASE_URL": f"sqlite:///{data_dir / 'cordvault.db'}",
            "DISCORD_API_BASE": emu.api_base,
            "DISCORD_BOT_TOKEN": emu.token,
            "DISCORD_CDN_BASE": emu.base_url + "/cdn",
        }
        with cordvault_serve(data_dir, settings) as (base, server):
            client = httpx.Client(base_url=base, timeout=30)
            upn = new_upn()
            auth = {"Authorization": f"Bearer {upn}"}
            package = data_dir / "small.zip"
            generate_package(package, GenOptions(variant="modern", seed=3, messages=200))
            answer = client.post(
                "/process/upload",
                content=package.read_bytes(),
                headers={**auth, "content-type": "application/zip"},
            ).json()
            pid = answer["packageId"]
            wait_processed(client, pid, upn, 300)  # no job runs while measuring
            firsts = []
            for uid in ids:
                start = time.perf_counter()
                answer = client.get(f"/process/{pid}/user/{uid}/avatar", headers=auth)
                firsts.append(time.perf_counter() - start)
                assert answer.status_code == 200, answer.text
            firsts.sort()
            print(
                f"first fetch (lookup + CDN + checks), {len(ids)} users: "
                f"p50 {firsts[len(firsts) // 2] * 1000:.1f} ms, max {firsts[-1] * 1000:.1f} ms",
                flush=True,
            )
            for name, url in (
                ("cached avatar", f"{base}/process/{pid}/user/{ids[0]}/avatar"),
                ("typical-durations", f"{base}/insights/typical-durations"),
            ):
                before = cpu_seconds(server.pid)
                result = wrk(url, upn, args.seconds, args.connections, 2)
                spent = cpu_seconds(server.pid) - before
                total = result["rps"] * args.seconds
                print(
                    f"{name}: {result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, "
                    f"p99 {result['p99']:.1f} ms, non-2xx {result['non2xx']:.0f}, "
                    f"server CPU {spent / total * 1000:.2f} s per 1,000 requests, "
                    f"load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
