"""The pacer against the emulator's real limits: zero 429s under bursts, 429s honoured, breaker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from tests.discord.support import CHANNEL, OTHER_CHANNEL, USER, make_client, make_config

from cordvault.discord import (
    DiscordAuthError,
    DiscordClient,
    DiscordRateLimited,
    DiscordRequestsHalted,
    Message,
    RateLimiter,
)
from cordvault.discord.emulator import EmulatorHandle, FaultRule, RouteLimit, running_emulator
from cordvault.discord.routes import Route

_R = TypeVar("_R")
CREATE = "POST /channels/{channel_id}/messages"


def _run_parallel(call: Callable[[int], _R], count: int, workers: int) -> list[_R]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(call, range(count)))


def test_burst_larger_than_the_bucket_gets_no_429(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    # 24 creates from 6 threads into a 5-per-0.5 s bucket, spread over two channels.
    def create(i: int) -> Message:
        return client.create_message((CHANNEL, OTHER_CHANNEL)[i % 2], [("b", b"x")])

    messages = _run_parallel(create, 24, workers=6)
    assert len({m.id for m in messages}) == 24
    stats = emulator.state.stats()
    assert stats.requests[CREATE] == 24  # every request was sent exactly once...
    assert stats.total_rate_limited == 0  # ...and none was refused
    assert client.stats().rate_limited == 0
    assert len(emulator.state.messages) == 24


def test_global_limit_is_respected() -> None:
    config = make_config()
    config.default_limit = RouteLimit(10_000, 1.0)  # only the global 50/s can bite
    with running_emulator(config) as emulator, make_client(emulator) as client:
        _run_parallel(lambda _: client.get_user(USER), 110, workers=8)
        stats = emulator.state.stats()
        assert stats.requests["GET /users/{user_id}"] == 110
        assert stats.global_rate_limited == 0
        assert stats.total_rate_limited == 0


def test_global_429_blocks_every_route_for_retry_after(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    emulator.add_fault(FaultRule("GET /users/*", "429", times=1, retry_after=0.4, is_global=True))
    client.get_user(USER)
    client.get_channel(CHANNEL)  # another route: still held back by the global block
    arrivals = emulator.state.stats().arrivals
    (refused,) = arrivals["fault 429"]
    (channel_read,) = arrivals["GET /channels/{channel_id}"]
    assert channel_read - refused >= 0.4


def test_429s_beyond_max_retries_raise_rate_limited(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    emulator.add_fault(FaultRule("GET /users/*", "429", retry_after=0.01))
    with pytest.raises(DiscordRateLimited) as info:
        client.get_user(USER)
    assert info.value.retry_after == pytest.approx(0.01)
    assert emulator.state.stats().faults["429"] == 4  # 1 + max_retries (3)
    assert client.stats().rate_limited == 4


def test_long_retry_after_is_not_slept_through(emulator: EmulatorHandle) -> None:
    emulator.add_fault(FaultRule("GET /users/*", "429", times=1, retry_after=120.0))
    with make_client(emulator, max_rate_limit_wait=1.0) as client:
        with pytest.raises(DiscordRateLimited) as info:
            client.get_user(USER)
        assert info.value.retry_after > 100
        assert emulator.state.stats().faults["429"] == 1  # no second request was sent


def test_invalid_request_breaker_stops_sending(emulator: EmulatorHandle) -> None:
    pacer = RateLimiter(invalid_threshold=5)
    with DiscordClient(emulator.api_base, "revoked-token-0000", pacer=pacer) as client:
        for _ in range(5):
            with pytest.raises(DiscordAuthError):
                client.get_user(USER)
        with pytest.raises(DiscordRequestsHalted) as info:
            client.get_user(USER)
    assert info.value.details["count"] == 5
    assert 0 < info.value.retry_after <= 600
    assert emulator.state.stats().invalid_requests == 5  # the sixth never left
    assert pacer.invalid_count() == 5


def test_shared_pacer_paces_two_clients_as_one_token(emulator: EmulatorHandle) -> None:
    pacer = RateLimiter()
    with make_client(emulator, pacer=pacer) as a, make_client(emulator, pacer=pacer) as b:
        _run_parallel(lambda i: (a, b)[i % 2].create_message(CHANNEL, [("s", b"y")]), 16, 4)
    assert emulator.state.stats().total_rate_limited == 0
    assert len(emulator.state.messages) == 16


def test_unknown_bucket_sends_one_probe_then_learns_the_limit() -> None:
    pacer = RateLimiter()
    route = Route("POST", "/channels/{channel_id}/messages", {"channel_id": CHANNEL})
    probe = pacer.acquire(route)
    second_went = threading.Event()

    def second() -> None:
        pacer.acquire(route)
        second_went.set()

    waiter = threading.Thread(target=second)
    waiter.start()
    assert not second_went.wait(0.3)  # the probe is in flight: nobody else goes
    headers = {
        "x-ratelimit-limit": "3",
        "x-ratelimit-remaining": "2",
        "x-ratelimit-reset": "1800000000.000",
        "x-ratelimit-reset-after": "30.0",
        "x-ratelimit-bucket": "abc",
    }
    pacer.release(probe, 200, headers, None)  # limit 3, 2 left: the waiter takes one
    assert second_went.wait(5)
    waiter.join()
    tickets = [pacer.acquire(route, max_wait=0.0)]
    with pytest.raises(DiscordRateLimited) as info:
        pacer.acquire(route, max_wait=1.0)  # bucket empty until its reset 30 s away
    assert info.value.retry_after > 29
    other = Route("POST", "/channels/{channel_id}/messages", {"channel_id": OTHER_CHANNEL})
    pacer.release(pacer.acquire(other), 200, headers, None)  # other channel: own bucket
    for ticket in tickets:
        pacer.release(ticket, 200, headers | {"x-ratelimit-remaining": "0"}, None)
