"""The analysis worker processes' side: kept free of the writer, the aggregation and the
settings (pydantic) so that the forkserver preloads, and every worker maps, only what a scan
needs."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cordvault.core.allocator import tune_allocator
from cordvault.insights.package.analytics import scan_shard
from cordvault.insights.package.messages import ChannelStats, scan_channel_messages


@dataclass(frozen=True)
class MessageJob:
    channel_id: str
    name: str
    kind: str
    sentiment: bool
    size: int


@dataclass(frozen=True)
class ShardJob:
    """An analytics shard to scan, whole or one half (see ``scan_shard``)."""

    name: str
    split_at: int | None = None
    second: bool = False


# A task is ("analytics", ShardJob, size) or ("messages", [MessageJob], size).
Task = tuple[str, Any, int]

worker_zip: dict[str, zipfile.ZipFile] = {}
_worker_queue: Any = None


def init_worker(progress_queue: Any) -> None:
    global _worker_queue
    _worker_queue = progress_queue
    tune_allocator()  # 4 MiB blocks reused from the heap instead of fresh mmaps each time


def _zip_for(path: str) -> zipfile.ZipFile:
    zf = worker_zip.get(path)
    if zf is None:
        zf = worker_zip[path] = zipfile.ZipFile(path)
    return zf


def execute(zip_path: str, task: Task, tick: Callable[[int], None]) -> tuple[str, Any]:
    kind, payload, _size = task
    zf = _zip_for(zip_path)
    if kind == "analytics":
        shard: ShardJob = payload
        return kind, scan_shard(zf, shard.name, tick, split_at=shard.split_at, second=shard.second)
    result: dict[str, ChannelStats] = {}
    for job in payload:
        result[job.channel_id] = scan_channel_messages(zf, job.name, job.kind, job.sentiment)
        tick(job.size)
    return kind, result


def pool_task(zip_path: str, task: Task) -> tuple[str, Any]:
    pending = 0

    def tick(nbytes: int) -> None:
        nonlocal pending
        pending += nbytes
        if pending >= 16 * 1024 * 1024:
            _worker_queue.put(pending)
            pending = 0

    try:
        return execute(zip_path, task, tick)
    finally:
        if pending:
            _worker_queue.put(pending)
