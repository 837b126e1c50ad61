"""End to end: every generator variant analysed, every table compared with the generator's
independently computed expected rows (``docs/insights-semantics.md``)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from cordvault.core.errors import CordvaultError
from cordvault.core.settings import Settings
from cordvault.insights.analyze import analyze_package
from cordvault.insights.generator import VARIANTS, GenOptions, generate_package
from cordvault.insights.output.sqlite_schema import COLUMNS, SCHEMA_VERSION

SENTIMENT_TOLERANCE = 2e-4


def _canonical(table: str, row: list[Any] | tuple[Any, ...]) -> tuple[Any, ...]:
    """A comparable form of a row: JSON columns parsed, floats left for tolerant comparison."""
    values = list(row)
    if table == "group_dm_channels_data":
        idx = COLUMNS[table].index("recipient_ids")
        values[idx] = tuple(orjson.loads(values[idx]))
    if table == "package_data":
        idx = COLUMNS[table].index("package_is_partial")
        values[idx] = int(values[idx])
    return tuple(values)


def _split_float(table: str, row: tuple[Any, ...]) -> tuple[tuple[Any, ...], float | None]:
    if table != "dm_channels_data":
        return row, None
    idx = COLUMNS[table].index("sentiment_score")
    return row[:idx] + row[idx + 1 :], float(row[idx])


def assert_tables_match(db: Path, expected: dict[str, Any]) -> None:
    conn = sqlite3.connect(db)
    try:
        for table, rows in expected["tables"].items():
            got_rows = conn.execute(f"SELECT {', '.join(COLUMNS[table])} FROM {table}").fetchall()
            got = [_split_float(table, _canonical(table, r)) for r in got_rows]
            want = [_split_float(table, _canonical(table, r)) for r in rows]
            got_keys = Counter(k for k, _ in got)
            want_keys = Counter(k for k, _ in want)
            missing = want_keys - got_keys
            extra = got_keys - want_keys
            detail = (
                f"{table}: {len(missing)} expected rows missing, {len(extra)} unexpected; "
                f"first missing {list(missing)[:3]}, first unexpected {list(extra)[:3]}"
            )
            assert not missing, detail
            assert not extra, detail
            floats_got = dict(got)
            for key, value in want:
                if value is not None:
                    assert floats_got[key] == pytest.approx(value, abs=SENTIMENT_TOLERANCE), (
                        table,
                        key,
                    )
        meta = dict(conn.execute("SELECT key, value FROM cordvault_meta").fetchall())
        for key, value in expected["meta"].items():
            want_value = orjson.dumps(value).decode() if isinstance(value, list) else str(value)
            if key == "sections":
                assert orjson.loads(meta[key]) == value, key
            else:
                assert meta[key] == want_value, (key, meta[key], want_value)
        # sql.js cannot read a WAL database: the file must be in rollback-journal mode.
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_matches_expected(tmp_path: Path, variant: str) -> None:
    package = tmp_path / f"{variant}.zip"
    expected_path = tmp_path / f"{variant}.expected.json"
    generate_package(
        package,
        GenOptions(variant=variant, seed=11, messages=1500, events=3000),
        expected_path,
    )
    expected = orjson.loads(expected_path.read_bytes())
    out = tmp_path / "out.sqlite"
    settings = Settings(data_dir=tmp_path, analyze_workers=1)
    if expected.get("error"):
        with pytest.raises(CordvaultError) as info:
            analyze_package(package, out, settings=settings)
        assert info.value.code == expected["error"]
        assert not out.exists()
        return
    summary = analyze_package(package, out, settings=settings)
    assert summary.sqlite_path == out
    assert_tables_match(out, expected)
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT package_version FROM package_data").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_realistic_profile_matches_expected(tmp_path: Path) -> None:
    package = tmp_path / "realistic.zip"
    expected_path = tmp_path / "realistic.expected.json"
    options = GenOptions(variant="mixed", seed=6, messages=3000, events=4000, profile="realistic")
    generate_package(package, options, expected_path)
    out = tmp_path / "out.sqlite"
    analyze_package(package, out, settings=Settings(data_dir=tmp_path, analyze_workers=1))
    assert_tables_match(out, orjson.loads(expected_path.read_bytes()))


@pytest.mark.parametrize("variant", ["mixed", "modern"])
def test_parallel_and_inline_runs_agree(
    tmp_path: Path, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process pool (forced) gives the same database content as the inline path, also
    when a shard is scanned in two halves by two workers ("modern" has three shards: the
    smallest is split)."""
    import cordvault.insights.analyze as analyze_module

    package = tmp_path / "p.zip"
    expected_path = tmp_path / "p.expected.json"
    generate_package(
        package, GenOptions(variant=variant, seed=5, messages=4000, events=6000), expected_path
    )
    expected = orjson.loads(expected_path.read_bytes())
    monkeypatch.setattr(analyze_module, "_INLINE_BELOW_BYTES", 0)
    monkeypatch.setattr(analyze_module, "_SPLIT_SHARD_MIN_BYTES", 0)
    planned: list[list[object]] = []
    plan = analyze_module._plan_tasks
    monkeypatch.setattr(
        analyze_module,
        "_plan_tasks",
        lambda *args: planned.append(plan(*args)) or planned[-1],  # type: ignore[func-returns-value]
    )
    out = tmp_path / "parallel.sqlite"
    analyze_package(package, out, settings=Settings(data_dir=tmp_path, analyze_workers=2))
    assert_tables_match(out, expected)
    halves = [t[1] for t in planned[0] if t[0] == "analytics" and t[1].split_at is not None]
    assert len(halves) == (2 if variant == "modern" else 0)


@pytest.mark.parametrize(("parallel", "split"), [(False, False), (True, False), (True, True)])
def test_corrupt_shard_after_messages_leaves_no_output(
    tmp_path: Path, parallel: bool, split: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages scan fine and their rows start being written; then an analytics shard fails
    its CRC (also when every shard is scanned in halves). The error is CORRUPT_ZIP and
    neither the database nor its temp file remains."""
    import zipfile

    import cordvault.insights.analyze as analyze_module

    if split:  # of three shards, the smallest is scanned in two halves
        monkeypatch.setattr(analyze_module, "_SPLIT_SHARD_MIN_BYTES", 0)

    package = tmp_path / "p.zip"
    generate_package(package, GenOptions(variant="modern", seed=2, messages=3000, events=4000))
    with zipfile.ZipFile(package) as zf:
        shards = sorted(
            (i for i in zf.infolist() if "/analytics/" in i.filename), key=lambda i: i.filename
        )
    # The one the planner splits (the last of the stable sort by size, largest first).
    shard = sorted(shards, key=lambda i: -i.file_size)[-1]
    data = bytearray(package.read_bytes())
    middle = shard.header_offset + 100 + shard.compress_size // 2
    data[middle] ^= 0xFF
    package.write_bytes(bytes(data))
    out = tmp_path / "out.sqlite"
    threshold = analyze_module._INLINE_BELOW_BYTES
    if parallel:
        analyze_module._INLINE_BELOW_BYTES = 0
    try:
        with pytest.raises(CordvaultError) as info:
            analyze_package(package, out, settings=Settings(data_dir=tmp_path, analyze_workers=2))
    finally:
        analyze_module._INLINE_BELOW_BYTES = threshold
    assert info.value.code == "CORRUPT_ZIP"
    assert not out.exists()
    assert not out.with_name(out.name + ".tmp").exists()
