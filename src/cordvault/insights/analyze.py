"""Analysing a Discord Data Package: the service the CLI, the server and the worker call.

Pipeline: open the zip safely (caps checked before anything is decompressed) -> find the
sections -> read the small metadata files here -> stream the large entries (analytics shards,
message files) in a pool of worker processes (see ``_plan_tasks`` for the order), each
returning small mergeable aggregates -> meanwhile, in a thread of this process, write the
message_sent rows and stage each shard's activity counts as their results arrive -> pair
voice/app sessions -> write the other tables -> compact the SQLite file into place.

Both cores are used because decompression and scanning are CPU-bound and the package's large
entries are independent. Small packages run inline (process start-up would cost more than it
saves). Progress is reported as ``progress(phase, done, total)``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_mod
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cordvault.core.allocator import release_free_memory, tune_allocator
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
from cordvault.insights._pool_worker import (
    MessageJob,
    ShardJob,
    Task,
    execute,
    init_worker,
    pool_task,
    worker_zip,
)
from cordvault.insights.aggregate.build import (
    PackageFacts,
    all_rows,
    day_text,
    event_count_rows,
    message_sent_series,
)
from cordvault.insights.aggregate.pairing import pair_sessions, pair_voice
from cordvault.insights.output.sqlite_writer import SqliteWriter
from cordvault.insights.package.account import parse_account
from cordvault.insights.package.analytics import AnalyticsPartial
from cordvault.insights.package.channels import ChannelInfo, ChannelKind, parse_channel, parse_index
from cordvault.insights.package.layout import PackageLayout, detect_layout
from cordvault.insights.package.messages import ChannelStats
from cordvault.insights.package.zipsource import (
    PackageLimits,
    list_entries,
    open_zip,
    read_small,
)

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
PHASE_READ = "reading package"
PHASE_WRITE = "writing database"
_INLINE_BELOW_BYTES = 48 * 1024 * 1024
_MESSAGE_TASK_BYTES = 64 * 1024 * 1024
# Below this a shard is not worth splitting in two (the second half re-inflates the first).
_SPLIT_SHARD_MIN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class AnalysisSummary:
    """What one analysis produced (no secrets; safe to log and to show)."""

    package_id: str
    sqlite_path: Path
    sqlite_bytes: int
    sections: list[str]
    is_partial: bool
    messages: int
    analytics_events: int
    table_rows: dict[str, int]
    seconds: float


def limits_from(settings: Settings) -> PackageLimits:
    """The zip-bomb caps configured in ``settings``."""
    return PackageLimits(
        max_total_bytes=settings.max_package_bytes,
        max_entry_bytes=settings.max_entry_bytes,
        max_ratio=settings.max_compression_ratio,
    )


def analyze_package(
    zip_path: Path,
    out_sqlite: Path,
    *,
    settings: Settings,
    package_id: str = "local",
    progress: ProgressCallback | None = None,
) -> AnalysisSummary:
    """Analyse ``zip_path`` into the SQLite file ``out_sqlite`` (closed, VACUUMed, no WAL).

    Raises :class:`CordvaultError`: NOT_A_ZIP, CORRUPT_ZIP, PACKAGE_TOO_LARGE,
    MISSING_USER_DATA, MALFORMED_PACKAGE. Malformed lines and files inside an otherwise
    readable package are skipped and counted in ``cordvault_meta``, never fatal.
    """
    started = time.monotonic()
    report = progress or (lambda _phase, _done, _total: None)
    with open_zip(zip_path) as zf:
        entries = list_entries(zf, limits_from(settings))
        layout = detect_layout(entries)
        if layout.user_json is None:
            raise CordvaultError(
                ErrorCode.MISSING_USER_DATA,
                "the package has no account data (Account/user.json is missing)",
            )
        payments = read_small(zf, layout.payments_json) if layout.payments_json else None
        account = parse_account(read_small(zf, layout.user_json), payments)
        messages_index = parse_index(
            read_small(zf, layout.messages_index) if layout.messages_index else None
        )
        servers_index = parse_index(
            read_small(zf, layout.servers_index) if layout.servers_index else None
        )
        channels, skipped_channels = _read_channels(zf, layout)

    workers = settings.analyze_workers or os.cpu_count() or 1
    inline = workers <= 1 or _large_bytes(layout) < _INLINE_BELOW_BYTES
    tasks = _plan_tasks(layout, channels, 1 if inline else workers)
    total = sum(size for _kind, _payload, size in tasks)
    writer = SqliteWriter(out_sqlite)
    rows = _RowWriter(writer, channels)
    try:
        if inline:
            results = _run_inline(zip_path, tasks, total, report, rows)
        else:
            results = _run_pool(zip_path, tasks, total, workers, report, rows)
        rows.join()

        analytics = AnalyticsPartial()
        stats: dict[str, ChannelStats] = {}
        for kind, result in results:
            if kind == "analytics":
                analytics.merge(result)
            else:
                stats.update(result)

        facts = PackageFacts(
            package_id=package_id,
            account=account,
            sections=layout.sections,
            channels=channels,
            stats=stats,
            messages_index=messages_index,
            servers_index=servers_index,
            analytics=analytics,
            voice=pair_voice(analytics.voice),
            sessions=pair_sessions(analytics.sessions),
            analytics_files=len(layout.analytics_files),
            message_files_json=_count_files(layout, channels, "json"),
            message_files_csv=_count_files(layout, channels, "csv"),
            channels_without_metadata=skipped_channels,
        )
        report(PHASE_WRITE, 0, 1)
        writer.insert_staged_activity()
        for table, table_rows in all_rows(facts).items():
            writer.insert(table, table_rows)
        size, counts = writer.finish()
    except BaseException:
        rows.join(reraise=False)
        writer.abort()
        raise
    report(PHASE_WRITE, 1, 1)
    summary = AnalysisSummary(
        package_id=package_id,
        sqlite_path=out_sqlite,
        sqlite_bytes=size,
        sections=layout.sections,
        is_partial=facts.is_partial,
        messages=sum(s.count for s in stats.values()),
        analytics_events=analytics.events,
        table_rows=counts,
        seconds=time.monotonic() - started,
    )
    log.info(
        "analysed package: %d messages, %d events in %.1f s",
        summary.messages,
        summary.analytics_events,
        summary.seconds,
    )
    return summary


def _large_bytes(layout: PackageLayout) -> int:
    """Decompressed bytes of the entries the workers would read."""
    return sum(size for _name, size in layout.analytics_files) + sum(
        c.messages_size for c in layout.channels if c.messages_file is not None
    )


def _count_files(layout: PackageLayout, channels: dict[str, ChannelInfo], kind: str) -> int:
    """Message files read (folders without a usable channel.json are skipped, not read)."""
    return sum(1 for c in layout.channels if c.messages_kind == kind and c.channel_id in channels)


def _read_channels(
    zf: zipfile.ZipFile, layout: PackageLayout
) -> tuple[dict[str, ChannelInfo], int]:
    """channel.json of every channel folder; folders without a readable one are counted."""
    channels: dict[str, ChannelInfo] = {}
    skipped = 0
    for files in layout.channels:
        info = None
        if files.channel_json is not None:
            info = parse_channel(files.channel_id, read_small(zf, files.channel_json, 16 << 20))
        if info is None:
            skipped += 1
            continue
        channels[files.channel_id] = info
    return channels, skipped


def _plan_tasks(
    layout: PackageLayout, channels: dict[str, ChannelInfo], workers: int = 1
) -> list[Task]:
    """Work units in the order workers take them: the largest analytics shard, then the
    message files, then the other shards (largest first within each kind).

    Why: shards are large and indivisible. Messages first left the last of three equal
    shards running alone on one core at the end; the largest shard first lets one worker
    start on it while the other reads the messages, whose rows the main process then writes
    while the remaining shards are scanned. For the same reason, when the shards do not
    share out evenly among two workers, the smallest big one is scanned in two halves.
    """
    shards = sorted(layout.analytics_files, key=lambda item: -item[1])
    analytics: list[Task] = []
    split = workers == 2 and len(shards) % 2 == 1 and shards[-1][1] >= _SPLIT_SHARD_MIN_BYTES
    for index, (name, size) in enumerate(shards):
        if split and index == len(shards) - 1:
            middle = size // 2
            analytics.append(("analytics", ShardJob(name, middle, False), middle))
            analytics.append(("analytics", ShardJob(name, middle, True), size - middle))
        else:
            analytics.append(("analytics", ShardJob(name), size))
    analytics.sort(key=lambda t: -t[2])
    tasks: list[Task] = []
    jobs = sorted(
        (
            MessageJob(
                c.channel_id,
                c.messages_file,
                c.messages_kind or "json",
                channels[c.channel_id].kind is ChannelKind.DM,
                c.messages_size,
            )
            for c in layout.channels
            if c.messages_file is not None and c.channel_id in channels
        ),
        key=lambda j: -j.size,
    )
    batch: list[MessageJob] = []
    batch_size = 0
    for job in jobs:
        batch.append(job)
        batch_size += job.size
        if batch_size >= _MESSAGE_TASK_BYTES:
            tasks.append(("messages", batch, batch_size))
            batch, batch_size = [], 0
    if batch:
        tasks.append(("messages", batch, batch_size))
    tasks.sort(key=lambda t: -t[2])
    return analytics[:1] + tasks + analytics[1:]


_STAGED_COUNTS = ("per_day", "guild_joined", "app_commands", "reactions", "app_opened")


def _drop_counts(partial: AnalyticsPartial) -> None:
    """Free a partial's counters once its rows are staged in the database: nothing reads
    them afterwards (the rest of the analysis needs its totals, voice and sessions), and
    unpickled they are ~20-35 MB a shard in this process."""
    for name in _STAGED_COUNTS:
        setattr(partial, name, Counter())
    partial.custom_reactions = set()


class _RowWriter:
    """Writes activity rows in a background thread while the package is still being read.

    The message_sent rows need only the message results, and each analytics shard's counts
    can be staged on their own (the writer sums them per key at the end): the main process,
    otherwise idle while the workers scan, turns them into rows meanwhile. Jobs run one at a
    time, in order, on the writer's connection; the first error stops the rest and is
    raised by :meth:`join`.
    """

    def __init__(self, writer: SqliteWriter, channels: dict[str, ChannelInfo]) -> None:
        self._writer = writer
        self._channels = channels
        self._jobs: queue_mod.SimpleQueue[Callable[[], object] | None] = queue_mod.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cordvault-rows", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._error is None:
                try:
                    job()
                except BaseException as exc:  # handed to the caller by join()
                    self._error = exc
            # What building the rows freed would otherwise stay resident while the workers
            # scan (the tree's peak); ~5 ms.
            release_free_memory()

    def messages_done(self, stats: dict[str, ChannelStats]) -> None:
        series = message_sent_series(self._channels, stats)
        self._jobs.put(lambda: self._writer.insert_hourly("message_sent", series, day_text))

    def analytics_done(self, partial: AnalyticsPartial) -> None:
        def stage() -> None:
            self._writer.stage_activity(event_count_rows(partial))
            _drop_counts(partial)

        self._jobs.put(stage)

    def join(self, *, reraise: bool = True) -> None:
        """Wait for every job queued so far (the writer is the caller's again after this)."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        if reraise and self._error is not None:
            raise self._error


# -- task execution ---------------------------------------------------------------------------


def _messages_of(results: list[tuple[str, Any]]) -> dict[str, ChannelStats]:
    stats: dict[str, ChannelStats] = {}
    for kind, result in results:
        if kind == "messages":
            stats.update(result)
    return stats


def _run_inline(
    zip_path: Path, tasks: list[Task], total: int, report: ProgressCallback, rows: _RowWriter
) -> list[tuple[str, Any]]:
    done = 0

    def tick(nbytes: int) -> None:
        nonlocal done
        done += nbytes
        report(PHASE_READ, min(done, total), total)

    report(PHASE_READ, 0, total)
    tune_allocator()
    results: list[tuple[str, Any]] = []
    try:
        messages_left = sum(1 for task in tasks if task[0] == "messages")
        if not messages_left:
            rows.messages_done({})
        for task in tasks:
            result = execute(str(zip_path), task, tick)
            results.append(result)
            if result[0] == "analytics":
                rows.analytics_done(result[1])
            else:
                messages_left -= 1
                if not messages_left:
                    rows.messages_done(_messages_of(results))
    finally:
        zf = worker_zip.pop(str(zip_path), None)
        if zf is not None:
            zf.close()
    report(PHASE_READ, total, total)
    return results


def _run_pool(
    zip_path: Path,
    tasks: list[Task],
    total: int,
    workers: int,
    report: ProgressCallback,
    rows: _RowWriter,
) -> list[tuple[str, Any]]:
    # forkserver: children start from a clean process, so threads of the caller (a progress
    # bar, a web server) cannot leave locks held in them as a plain fork could.
    ctx = multiprocessing.get_context("forkserver")
    # Workers fork from a server that already imported the scanning code (not each on its
    # own), and only that: not this module's writer, aggregation and settings (pydantic).
    ctx.set_forkserver_preload(["cordvault.insights._pool_worker"])
    # One malloc arena here too (as _run_inline does): the results are unpickled by the
    # executor's manager thread, whose own arena kept what they freed (main peaked ~15 MB
    # higher). Must run before that thread starts.
    tune_allocator()
    progress_queue = ctx.Queue()
    done = 0
    report(PHASE_READ, 0, total)
    results: list[tuple[str, Any]] = []
    with ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)) or 1,
        mp_context=ctx,
        # A fresh worker per task: a scan leaves caches and freed heap behind (~25-40 MB),
        # which the next task's peak would stack on (workers peaked at 115-120 MB, 75-85 MB
        # this way; forking one from the forkserver costs ~20 ms). Only 1 is safe on
        # 3.11-3.13: larger values can deadlock the pool (CPython gh-115634); with 1 every
        # worker exits after its task and a replacement is always spawned.
        max_tasks_per_child=1,
        initializer=init_worker,
        initargs=(progress_queue,),
    ) as pool:
        if not tasks:
            rows.messages_done({})
        futures: set[Future[tuple[str, Any]]] = set()
        pending_messages: set[Future[tuple[str, Any]]] = set()
        for task in tasks:  # submission order is the order workers take them in
            future = pool.submit(pool_task, str(zip_path), task)
            futures.add(future)
            if task[0] == "messages":
                pending_messages.add(future)
        messages_reported = False
        while futures:
            finished, futures = wait(futures, timeout=0.25, return_when=FIRST_COMPLETED)
            while True:
                try:
                    done += progress_queue.get_nowait()
                except queue_mod.Empty:
                    break
            report(PHASE_READ, min(done, total), total)
            for future in finished:
                result = future.result()
                results.append(result)
                pending_messages.discard(future)
                if result[0] == "analytics":
                    rows.analytics_done(result[1])
            if not pending_messages and not messages_reported:
                messages_reported = True
                rows.messages_done(_messages_of(results))
    progress_queue.close()
    report(PHASE_READ, total, total)
    return results
