"""Emulator conformance with raw HTTP: it must behave like Discord for the client tests to mean
anything (headers, limits, codes, signed URLs, Range, faults, paging, nonces, runner)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.discord.support import (
    CHANNEL,
    LOCKED_CHANNEL,
    TOKEN,
    USER,
    WEBHOOK_ID,
    WEBHOOK_TOKEN,
    make_config,
)

from cordvault.discord.emulator import EmulatorHandle, FaultRule, running_emulator
from cordvault.discord.snowflake import snowflake_time

AUTH = {"Authorization": f"Bot {TOKEN}"}


@pytest.fixture
def http(emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.api_base, headers=AUTH, timeout=10) as c:
        yield c


def _post(http: httpx.Client, files: list[tuple[str, bytes]], **payload: object) -> httpx.Response:
    parts = [
        (f"files[{i}]", (name, data, "application/octet-stream"))
        for i, (name, data) in enumerate(files)
    ]
    return http.post(
        f"/channels/{CHANNEL}/messages",
        data={"payload_json": json.dumps(payload)},
        files=parts or None,
    )


def test_rate_limit_headers_and_429_shape(http: httpx.Client) -> None:
    answers = [_post(http, [("a.bin", b"a")]) for _ in range(6)]
    assert [r.status_code for r in answers] == [200] * 5 + [429]
    first = answers[0].headers
    assert first["x-ratelimit-limit"] == "5"
    assert first["x-ratelimit-remaining"] == "4"
    assert 0 < float(first["x-ratelimit-reset-after"]) <= 0.5
    assert float(first["x-ratelimit-reset"]) > time.time() - 1
    assert len(first["x-ratelimit-bucket"]) == 16
    assert answers[4].headers["x-ratelimit-remaining"] == "0"
    assert answers[4].headers["x-ratelimit-reset"] == first["x-ratelimit-reset"]  # one window
    limited = answers[5]
    body = limited.json()
    assert set(body) == {"message", "retry_after", "global"}
    assert body["global"] is False
    assert 0 < body["retry_after"] <= 0.5
    assert limited.headers["x-ratelimit-scope"] == "user"
    assert int(limited.headers["retry-after"]) >= 1
    time.sleep(float(limited.headers["x-ratelimit-reset-after"]))
    assert _post(http, [("a.bin", b"a")]).status_code == 200  # the window reset


def test_global_limit_answers_a_global_429() -> None:
    config = make_config()
    config.global_limit = 3
    with running_emulator(config) as emu, httpx.Client(headers=AUTH) as http:
        answers = [http.get(f"{emu.api_base}/users/{USER}") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert answers[3].json()["global"] is True
        assert answers[3].headers["x-ratelimit-global"] == "true"
        assert answers[3].headers["x-ratelimit-scope"] == "global"
        assert "x-ratelimit-bucket" not in answers[3].headers
        assert emu.state.stats().global_rate_limited == 1


def test_auth_and_access_errors(emulator: EmulatorHandle, http: httpx.Client) -> None:
    anonymous = httpx.get(f"{emulator.api_base}/users/{USER}")
    assert anonymous.status_code == 401
    wrong = httpx.get(f"{emulator.api_base}/users/{USER}", headers={"Authorization": "Bot nope"})
    assert wrong.status_code == 401
    assert http.get("/channels/999999999999999999").json()["code"] == 10003
    locked = http.get(f"/channels/{LOCKED_CHANNEL}")
    assert (locked.status_code, locked.json()["code"]) == (403, 50001)
    assert http.get("/no/such/route").json() == {"message": "404: Not Found", "code": 0}
    assert emulator.state.stats().invalid_requests == 3  # 401, 401, 403


def test_upload_limits_and_codes(emulator: EmulatorHandle, http: httpx.Client) -> None:
    config = emulator.state.config
    config.max_file_size = 1000
    config.max_request_size = 5000
    config.route_limits["POST /channels/{channel_id}/messages"] = config.default_limit
    big = _post(http, [("big.bin", b"x" * 1001)])
    assert (big.status_code, big.json()["code"]) == (413, 40005)
    whole = _post(http, [(f"{i}.bin", b"x" * 900) for i in range(6)])
    assert (whole.status_code, whole.json()["code"]) == (413, 40005)
    many = _post(http, [(f"{i}.bin", b"x") for i in range(11)])
    assert (many.status_code, many.json()["code"]) == (400, 30015)
    empty = http.post(f"/channels/{CHANNEL}/messages", json={"content": ""})
    assert (empty.status_code, empty.json()["code"]) == (400, 50006)
    long_text = http.post(f"/channels/{CHANNEL}/messages", json={"content": "x" * 2001})
    assert long_text.status_code == 400
    ok = _post(http, [("../../etc/pass wd", b"abc")], content="hi")
    assert ok.status_code == 200
    attachment = ok.json()["attachments"][0]
    assert attachment["filename"] == "pass_wd"  # no paths, odd characters replaced
    assert set(attachment) >= {"id", "filename", "size", "url", "proxy_url", "content_type"}
    assert len(emulator.state.messages) == 1


def test_ids_are_increasing_time_based_snowflakes(http: httpx.Client) -> None:
    before = time.time()
    ids = [
        int(http.post(f"/channels/{CHANNEL}/messages", json={"content": "t"}).json()["id"])
        for _ in range(5)
    ]
    assert ids == sorted(set(ids))
    assert before - 1 <= snowflake_time(ids[0]) <= time.time() + 1


def test_cdn_signatures_expiry_and_ranges(emulator: EmulatorHandle, http: httpx.Client) -> None:
    data = bytes(range(256)) * 4
    url = _post(http, [("r.bin", data)]).json()["attachments"][0]["url"]
    assert all(part in url for part in ("?ex=", "&is=", "&hm="))
    with httpx.Client() as cdn:
        part = cdn.get(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
        assert part.content == data[10:20]
        assert cdn.get(url, headers={"Range": "bytes=-4"}).content == data[-4:]
        beyond = cdn.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(data)}"
        assert cdn.get(url.split("?")[0]).status_code == 403  # unsigned
        assert cdn.get(url.replace("r.bin", "s.bin")).status_code == 403  # signature binds name
        assert cdn.get(url, headers={"Authorization": "irrelevant"}).content == data
        assert emulator.state.stats().cdn_requests_with_authorization == 1
        emulator.state.advance(601)
        assert cdn.get(url).status_code == 404  # expired


def test_cdn_serves_multi_mib_attachments_whole_and_in_ranges(http: httpx.Client) -> None:
    # Larger than the CDN's read size and not a multiple of it: every read boundary is crossed.
    data = bytes(range(251)) * (10 * 1024 * 1024 // 251 // 4 + 7)
    url = _post(http, [("big.bin", data)]).json()["attachments"][0]["url"]
    with httpx.Client() as cdn:
        whole = cdn.get(url)
        assert whole.status_code == 200
        assert whole.content == data
        start, end = 1024 * 1024 - 3, 2 * 1024 * 1024 + 5  # spans two read boundaries
        part = cdn.get(url, headers={"Range": f"bytes={start}-{end}"})
        assert part.status_code == 206
        assert part.content == data[start : end + 1]
        assert cdn.get(url, headers={"Range": "bytes=-100"}).content == data[-100:]


def test_bulk_delete_rules(emulator: EmulatorHandle, http: httpx.Client) -> None:
    ids = [
        http.post(f"/channels/{CHANNEL}/messages", json={"content": "b"}).json()["id"]
        for _ in range(3)
    ]
    bulk = f"/channels/{CHANNEL}/messages/bulk-delete"
    assert http.post(bulk, json={"messages": ids[:1]}).status_code == 400
    time.sleep(0.21)
    assert http.post(bulk, json={"messages": [ids[0], ids[0]]}).status_code == 400
    time.sleep(0.21)
    emulator.state.advance(14 * 24 * 3600 + 60)
    old = http.post(bulk, json={"messages": ids[:2]})
    assert (old.status_code, old.json()["code"]) == (400, 50034)
    assert len(emulator.state.messages) == 3  # all or nothing
    deleted = http.delete(f"/channels/{CHANNEL}/messages/{ids[0]}")
    assert deleted.status_code == 204
    again = http.delete(f"/channels/{CHANNEL}/messages/{ids[0]}")
    assert (again.status_code, again.json()["code"]) == (404, 10008)


def test_nonce_enforcement_returns_the_first_message(http: httpx.Client) -> None:
    first = _post(http, [("n.bin", b"1")], nonce="abc123", enforce_nonce=True).json()
    second = _post(http, [("n.bin", b"1")], nonce="abc123", enforce_nonce=True).json()
    unenforced = _post(http, [("n.bin", b"1")], nonce="abc123").json()
    assert second["id"] == first["id"]
    assert unenforced["id"] != first["id"]


def test_webhook_wait_and_token(emulator: EmulatorHandle) -> None:
    hook = f"{emulator.api_base}/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
    assert httpx.post(hook, json={"content": "no wait"}).status_code == 204
    waited = httpx.post(hook, params={"wait": "true"}, json={"content": "wait"})
    assert waited.json()["webhook_id"] == WEBHOOK_ID
    wrong = httpx.post(f"{emulator.api_base}/webhooks/{WEBHOOK_ID}/bad", json={"content": "x"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, 50027)


def test_fault_injection(emulator: EmulatorHandle, http: httpx.Client) -> None:
    emulator.add_fault(FaultRule("GET /users/*", "503", probability=0.5))
    statuses = [http.get(f"/users/{USER}").status_code for _ in range(40)]
    assert set(statuses) == {200, 503}
    assert 8 <= statuses.count(503) <= 32  # seeded: a fraction, not all or nothing
    emulator.state.faults.clear()
    emulator.add_fault(FaultRule("GET /channels/*", "reset", times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"/channels/{CHANNEL}")
    assert http.get(f"/channels/{CHANNEL}").status_code == 200
    emulator.add_fault(FaultRule("GET /channels/*", "slow", times=1, delay=0.5))
    with pytest.raises(httpx.ReadTimeout):
        http.get(f"/channels/{CHANNEL}", timeout=0.1)
    emulator.add_fault(FaultRule("GET /cdn/*", "502", times=1))
    assert httpx.get(f"{emulator.base_url}/cdn/attachments/1/2/x").status_code == 502


def test_control_api(emulator: EmulatorHandle) -> None:
    base = emulator.base_url
    added = httpx.post(f"{base}/_emulator/faults", json={"pattern": "GET /users/*", "kind": "500"})
    assert added.status_code == 201
    assert httpx.get(f"{emulator.api_base}/users/{USER}", headers=AUTH).status_code == 500
    assert httpx.delete(f"{base}/_emulator/faults").status_code == 204
    assert httpx.post(f"{base}/_emulator/faults", json={"kind": "500"}).status_code == 400
    now = httpx.post(f"{base}/_emulator/clock", json={"advance": 3600}).json()["now"]
    assert now > time.time() + 3500
    stats = httpx.get(f"{base}/_emulator/stats").json()
    assert stats["faults"] == {"500": 1}


def test_runner_serves_until_stopped() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cordvault.discord.emulator",
            "--port",
            "0",
            "--channel",
            CHANNEL,
            "--token",
            TOKEN,
            "--user",
            f"{USER}:nelly",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        api_base = line.strip().split("DISCORD_API_BASE=", 1)[1]
        user = httpx.get(f"{api_base}/users/{USER}", headers=AUTH, timeout=10).json()
        assert user["username"] == "nelly"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_too_many_invalid_requests_ban_the_ip() -> None:
    config = make_config()
    config.ban_threshold = 5
    with running_emulator(config) as emu:
        url = f"{emu.api_base}/users/{USER}"
        bad = [httpx.get(url, headers={"Authorization": "Bot nope"}) for _ in range(5)]
        assert [r.status_code for r in bad] == [401] * 5
        banned = httpx.get(url, headers=AUTH)  # even a valid token is refused now
        assert (banned.status_code, banned.text) == (429, "error code: 1015")
        assert int(banned.headers["retry-after"]) > 3000
