"""Pure pieces: snowflakes, routes (validation, secret-free keys), models, backoff, 429 parsing."""

from __future__ import annotations

import time

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.discord import Attachment, Backoff, Message, User
from cordvault.discord.ratelimit import parse_429
from cordvault.discord.routes import Route
from cordvault.discord.snowflake import SnowflakeGenerator, snowflake_at, snowflake_time


def test_snowflakes_encode_time_and_never_repeat() -> None:
    # Discord's documented example: 175928847299117063 was created 2016-04-30 11:18:25.796 UTC.
    assert snowflake_time(175928847299117063) == pytest.approx(1462015105.796)
    assert snowflake_time(snowflake_at(1462015105.796)) == pytest.approx(1462015105.796)
    generator = SnowflakeGenerator()
    now = time.time()
    ids = [int(generator.next(now)) for _ in range(1000)] + [int(generator.next(now - 60))]
    assert ids == sorted(set(ids))  # same millisecond or a clock step back: still increasing


def test_routes_validate_ids_and_keep_webhook_tokens_out_of_labels_and_keys() -> None:
    token = "secret-webhook-token_1"
    route = Route(
        "POST",
        "/webhooks/{webhook_id}/{webhook_token}",
        {"webhook_id": "123", "webhook_token": token},
    )
    assert route.path == f"/webhooks/123/{token}"
    assert token not in route.label
    assert token not in str(route.bucket_key)
    assert route.is_webhook
    for bad in ("12a", "", "1" * 21, "1/../2"):
        with pytest.raises(CordvaultError) as info:
            Route("GET", "/users/{user_id}", {"user_id": bad})
        assert info.value.code == ErrorCode.INVALID_INPUT
        assert info.value.message == "user_id must be a Discord id (digits)"  # value not echoed


def test_models_parse_discord_json() -> None:
    expiry = 0x6B013A2C
    message = Message.from_api(
        {
            "id": "1",
            "channel_id": "2",
            "content": "",
            "author": {"id": "3"},
            "timestamp": "2026-11-21T06:00:00+00:00",
            "attachments": [
                {
                    "id": "4",
                    "filename": "a.bin",
                    "size": 5,
                    "url": f"https://cdn/x?ex={expiry:x}&is=0&hm=ff&",
                    "proxy_url": "https://media/x",
                    "content_type": None,
                }
            ],
        }
    )
    attachment = message.attachments[0]
    assert isinstance(attachment, Attachment)
    assert attachment.expires_at == float(expiry)
    assert "cdn" not in repr(attachment)  # signed URLs stay out of reprs (and so of logs)
    user = User.from_api(
        {"id": "80351110224678912", "username": "n", "discriminator": "0", "avatar": "a_anim"}
    )
    assert user.avatar_url().endswith("/a_anim.gif")
    assert (
        User.from_api({"id": "80351110224678912", "username": "n"})
        .avatar_url()
        .endswith(f"/embed/avatars/{(80351110224678912 >> 22) % 6}.png")
    )


def test_backoff_is_jittered_capped_and_honours_retry_after() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    delays = [backoff.delay(attempt) for attempt in range(10) for _ in range(20)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100  # jittered, not a fixed schedule
    assert backoff.delay(0, retry_after=3.0) >= 3.0


def test_parse_429_reads_body_then_headers() -> None:
    answer = parse_429({"x-ratelimit-scope": "shared"}, {"retry_after": 1.5, "global": False})
    assert (answer.retry_after, answer.is_global, answer.scope) == (1.5, False, "shared")
    from_headers = parse_429({"retry-after": "7", "x-ratelimit-global": "true"}, None)
    assert (from_headers.retry_after, from_headers.is_global) == (7.0, True)
