"""``/health`` answers from a snapshot refreshed in the background, never waiting behind the
thread pool once it has one (issue 15: a probe's p99 during concurrent downloads)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from cordvault.insights.api_models import HealthOut
from cordvault.web import insights as insights_routes


def _answer(n: int) -> HealthOut:
    return HealthOut(status="alive", hostname=f"h{n}", version="x", queue=None, queueDepth=None)


def test_stale_snapshot_is_served_at_once_while_a_slow_refresh_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(insights_routes, "HEALTH_MAX_AGE", 0.05)
    calls: list[int] = []
    release = threading.Event()

    def compute() -> HealthOut:
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)  # the database (or the thread pool) is slow now
        return _answer(len(calls))

    async def scenario() -> None:
        cache = insights_routes._HealthCache(compute)
        assert (await cache.get()).hostname == "h1"  # the first call waits for an answer
        assert (await cache.get()).hostname == "h1"
        assert len(calls) == 1
        await asyncio.sleep(0.1)
        # Stale: answered at once with the old snapshot; one refresh starts, not three.
        for _ in range(3):
            got = await asyncio.wait_for(cache.get(), timeout=0.5)
            assert got.hostname == "h1"
        await asyncio.sleep(0.05)
        assert len(calls) == 2
        release.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if (await cache.get()).hostname == "h2":
                break
        assert (await cache.get()).hostname == "h2"

    asyncio.run(scenario())


def test_a_failed_refresh_keeps_the_last_answer_and_tries_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(insights_routes, "HEALTH_MAX_AGE", 0.0)
    outcomes: list[HealthOut | Exception] = [_answer(1), RuntimeError("boom"), _answer(3)]

    def compute() -> HealthOut:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def scenario() -> None:
        cache = insights_routes._HealthCache(compute)
        assert (await cache.get()).hostname == "h1"
        await asyncio.sleep(0.01)
        assert (await cache.get()).hostname == "h1"  # starts the refresh that fails
        await asyncio.sleep(0.05)
        assert (await cache.get()).hostname == "h1"  # kept; a new refresh starts
        await asyncio.sleep(0.05)
        assert (await cache.get()).hostname == "h3"

    asyncio.run(scenario())
