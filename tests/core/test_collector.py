"""The server's garbage-collector tuning (core/collector.py), in a fresh interpreter each time:
the collector's state is process-wide and the test process must keep its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).parents[2] / "src")

PROBE = """
import gc, json, sys
from cordvault.core.collector import tune_collector
before = gc.get_threshold()
changed = tune_collector(int(sys.argv[1]))
print(json.dumps({"changed": changed, "before": before, "after": gc.get_threshold(),
                  "frozen": gc.get_freeze_count()}))
"""


def probe(threshold: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(threshold)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_raises_the_first_threshold_and_freezes_what_exists() -> None:
    result = probe(50_000)
    assert result["changed"] is True
    before, after = result["before"], result["after"]
    assert isinstance(before, list)
    assert isinstance(after, list)
    assert after == [50_000, before[1], before[2]]
    assert isinstance(result["frozen"], int)
    assert result["frozen"] > 1_000


def test_zero_keeps_pythons_defaults() -> None:
    result = probe(0)
    assert result["changed"] is False
    assert result["after"] == result["before"]
    assert result["frozen"] == 0


def test_the_server_factory_applies_the_setting(tmp_path: Path) -> None:
    code = (
        "import gc, json\n"
        "from cordvault.web.app import app_from_env\n"
        "app_from_env()\n"
        "print(json.dumps([gc.get_threshold()[0], gc.get_freeze_count()]))\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC, "DATA_DIR": str(tmp_path), "GC_GEN0_THRESHOLD": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
    ).stdout
    threshold, frozen = json.loads(out.strip().splitlines()[-1])
    assert threshold == 12345
    assert frozen > 10_000
