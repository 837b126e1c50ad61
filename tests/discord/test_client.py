"""DiscordClient against the emulator over real HTTP: lookups, uploads, reads, deletes, errors."""

from __future__ import annotations

import gc
import logging
import os
import sys

import pytest
from tests.discord.support import (
    CHANNEL,
    GUILD,
    LEGACY_USER,
    LOCKED_CHANNEL,
    LOCKED_GUILD,
    OTHER_CHANNEL,
    TOKEN,
    USER,
    WEBHOOK_ID,
    WEBHOOK_TOKEN,
    make_client,
)

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.discord import (
    DiscordAuthError,
    DiscordClient,
    DiscordForbidden,
    DiscordNotFound,
    DiscordOutcomeUnknown,
    DiscordPayloadTooLarge,
    DiscordRangeNotSatisfiable,
    DiscordTooManyAttachments,
    DiscordUnavailable,
    DiscordUrlExpired,
)
from cordvault.discord.emulator import EmulatorHandle, FaultRule

DAY = 24 * 3600.0


def _requests(emulator: EmulatorHandle, label: str) -> int:
    return emulator.state.stats().requests[label]


# -- lookups ---------------------------------------------------------------------------------


def test_get_user_returns_typed_user_with_avatar_urls(client: DiscordClient) -> None:
    user = client.get_user(USER)
    assert (user.id, user.username, user.display_name) == (USER, "nelly", "Nelly")
    assert user.avatar_url() == (
        f"https://cdn.discordapp.com/avatars/{USER}/8342729096ea3675442027381ff50dfe.png"
    )
    legacy = client.get_user(LEGACY_USER)
    assert legacy.display_name == "oldtimer"
    assert legacy.avatar_url() == "https://cdn.discordapp.com/embed/avatars/2.png"  # 1337 % 5


def test_unknown_user_is_not_found_with_discord_code(client: DiscordClient) -> None:
    with pytest.raises(DiscordNotFound) as info:
        client.get_user("123456789012345678")
    assert info.value.discord_code == 10013
    assert info.value.code == ErrorCode.NOT_FOUND


def test_non_numeric_id_is_refused_before_any_request(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    with pytest.raises(CordvaultError) as info:
        client.get_user("../guilds/1")
    assert info.value.code == ErrorCode.INVALID_INPUT
    assert emulator.state.stats().total_requests == 0


def test_forced_429_is_waited_out_then_succeeds(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    emulator.add_fault(FaultRule("GET /users/*", "429", times=1, retry_after=0.3))
    assert client.get_user(USER).username == "nelly"
    stats = client.stats()
    assert (stats.rate_limited, stats.retries, stats.invalid_requests) == (1, 1, 1)
    arrivals = emulator.state.stats().arrivals
    (refused,), (served,) = arrivals["fault 429"], arrivals["GET /users/{user_id}"]
    assert served - refused >= 0.3  # retry_after honoured, not a blind immediate retry


def test_guild_lookup_with_counts_and_errors(client: DiscordClient) -> None:
    guild = client.get_guild(GUILD)
    assert (guild.name, guild.approximate_member_count) == ("Vault Guild", 42)
    assert guild.icon_url() == f"https://cdn.discordapp.com/icons/{GUILD}/a_icon.gif"
    assert client.get_guild(GUILD, with_counts=False).approximate_member_count is None
    with pytest.raises(DiscordNotFound) as info:
        client.get_guild("999999999999999999")
    assert info.value.discord_code == 10004
    with pytest.raises(DiscordForbidden) as forbidden:
        client.get_guild(LOCKED_GUILD)
    assert forbidden.value.discord_code == 50001


def test_bad_token_is_an_auth_error_and_counts_as_invalid(emulator: EmulatorHandle) -> None:
    with (
        DiscordClient(emulator.api_base, "wrong-token-xyz123") as bad,
        pytest.raises(DiscordAuthError) as info,
    ):
        bad.get_user(USER)
    assert info.value.code == ErrorCode.DISCORD_AUTH_FAILED
    assert bad.stats().invalid_requests == 1
    assert emulator.state.stats().invalid_requests == 1


def test_channel_lookup_and_access_errors(client: DiscordClient) -> None:
    assert client.get_channel(CHANNEL)["guild_id"] == GUILD
    with pytest.raises(DiscordNotFound) as unknown:
        client.get_channel("999999999999999999")
    assert unknown.value.discord_code == 10003
    with pytest.raises(DiscordForbidden) as locked:
        client.create_message(LOCKED_CHANNEL, [("a.bin", b"x")])
    assert locked.value.discord_code == 50001


# -- uploads ---------------------------------------------------------------------------------


def test_multipart_create_stores_every_file_and_fetches_back(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    files = [(f"c{i}.bin", bytes([i]) * (1000 + i)) for i in range(3)]
    message = client.create_message(CHANNEL, files, content="opaque")
    assert (message.channel_id, message.content) == (CHANNEL, "opaque")
    assert [a.filename for a in message.attachments] == ["c0.bin", "c1.bin", "c2.bin"]
    assert [a.size for a in message.attachments] == [1000, 1001, 1002]
    for attachment, (_, data) in zip(message.attachments, files, strict=True):
        assert client.fetch_attachment(attachment.url) == data
        assert client.fetch_attachment(attachment.proxy_url) == data
    stored = dict(emulator.state.iter_attachment_bytes())
    assert sorted(stored.values()) == sorted(data for _, data in files)
    stats = emulator.state.stats()
    assert stats.requests["GET /cdn/attachments"] == 6
    assert stats.cdn_requests_with_authorization == 0  # the bot token stays with the API


def test_upload_limits_are_classified(client: DiscordClient, emulator: EmulatorHandle) -> None:
    emulator.state.config.max_file_size = 4096
    with pytest.raises(DiscordPayloadTooLarge) as too_big:
        client.create_message(CHANNEL, [("big.bin", b"x" * 4097)])
    assert (too_big.value.http_status, too_big.value.discord_code) == (413, 40005)
    emulator.state.config.max_request_size = 3 * 4096
    with pytest.raises(DiscordPayloadTooLarge):
        client.create_message(CHANNEL, [(f"{i}.bin", b"y" * 4000) for i in range(4)])
    with pytest.raises(DiscordTooManyAttachments) as too_many:
        client.create_message(CHANNEL, [(f"{i}.bin", b"z") for i in range(11)])
    assert too_many.value.discord_code == 30015
    assert emulator.state.messages == {}  # nothing half-created
    assert client.stats().retries == 0  # permanent errors are not retried


def test_webhook_round_trip(client: DiscordClient, emulator: EmulatorHandle) -> None:
    message = client.execute_webhook(WEBHOOK_ID, WEBHOOK_TOKEN, [("w.bin", b"webhook!")])
    assert (message.webhook_id, message.channel_id) == (WEBHOOK_ID, CHANNEL)
    again = client.get_webhook_message(WEBHOOK_ID, WEBHOOK_TOKEN, message.id)
    assert client.fetch_attachment(again.attachments[0].url) == b"webhook!"
    client.delete_webhook_message(WEBHOOK_ID, WEBHOOK_TOKEN, message.id)
    client.delete_webhook_message(WEBHOOK_ID, WEBHOOK_TOKEN, message.id)  # idempotent
    assert emulator.state.messages == {}
    with pytest.raises(DiscordAuthError):
        client.execute_webhook(WEBHOOK_ID, "not-the-token", [("w.bin", b"x")])


def test_posted_files_are_freed_by_reference_counting(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    """Once a post returns, nothing of its request references the files, even while the
    cyclic garbage collector is off: httpx keeps each request in a reference cycle (the
    response's stream is bound to the response), and files held there (a drive upload's 8 MiB
    chunks) stayed alive until some later collection. A retried post sends them whole again."""
    chunks = [os.urandom(300 * 1024 + n) for n in range(3)]
    counts = [sys.getrefcount(chunk) for chunk in chunks]
    emulator.add_fault(FaultRule("POST /channels/*/messages", "503", times=1))
    gc.collect()
    gc.disable()
    try:
        message = client.create_message(CHANNEL, [(f"{n}.bin", c) for n, c in enumerate(chunks)])
        hooked = client.execute_webhook(WEBHOOK_ID, WEBHOOK_TOKEN, [("w.bin", chunks[0])])
        after = [sys.getrefcount(chunk) for chunk in chunks]
    finally:
        gc.enable()
    assert after == counts, "a posted file is still referenced by the finished request"
    assert client.stats().retries == 1
    for attachment, chunk in zip(message.attachments, chunks, strict=True):
        assert client.fetch_attachment(attachment.url) == chunk
    assert client.fetch_attachment(hooked.attachments[0].url) == chunks[0]


# -- reads -----------------------------------------------------------------------------------


def test_get_messages_pages_newest_first(client: DiscordClient) -> None:
    ids = [client.create_message(OTHER_CHANNEL, [], content=f"m{i}").id for i in range(7)]
    assert [m.id for m in client.get_messages(OTHER_CHANNEL)] == ids[::-1]
    assert [m.id for m in client.get_messages(OTHER_CHANNEL, limit=2)] == ids[:4:-1]
    assert [m.id for m in client.get_messages(OTHER_CHANNEL, before=ids[3])] == ids[2::-1]
    assert [m.id for m in client.get_messages(OTHER_CHANNEL, after=ids[3], limit=2)] == [
        ids[5],
        ids[4],
    ]
    around = [m.id for m in client.get_messages(OTHER_CHANNEL, around=ids[3], limit=3)]
    assert around == [ids[4], ids[3], ids[2]]
    assert client.get_message(OTHER_CHANNEL, ids[0]).content == "m0"
    with pytest.raises(CordvaultError) as bad:
        client.get_messages(OTHER_CHANNEL, before=ids[1], after=ids[0])
    assert bad.value.code == ErrorCode.INVALID_INPUT
    with pytest.raises(DiscordNotFound) as wrong_channel:
        client.get_message(CHANNEL, ids[0])
    assert wrong_channel.value.discord_code == 10008


def test_range_reads(client: DiscordClient) -> None:
    data = bytes(range(256)) * 40
    url = client.create_message(CHANNEL, [("r.bin", data)]).attachments[0].url
    assert client.fetch_attachment(url, 100, 356) == data[100:356]
    assert client.fetch_attachment(url, 10_000) == data[10_000:]
    assert client.fetch_attachment(url, 5, 5) == b""
    assert client.fetch_attachment(url, 10_200, 20_000) == data[10_200:]  # clamped like slicing
    with pytest.raises(DiscordRangeNotSatisfiable) as info:
        client.fetch_attachment(url, len(data) + 1)
    assert info.value.size == len(data)
    for bad_url in ("file:///etc/passwd", "not a url", ""):
        with pytest.raises(CordvaultError) as refused:
            client.fetch_attachment(bad_url)
        assert refused.value.code == ErrorCode.INVALID_INPUT
    with pytest.raises(CordvaultError) as bad_range:
        client.fetch_attachment(url, 10, 5)
    assert bad_range.value.code == ErrorCode.INVALID_INPUT


def test_expired_url_is_refreshed_through_get_message(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    message = client.create_message(CHANNEL, [("e.bin", b"expiring")])
    stale = message.attachments[0]
    assert stale.expires_at is not None
    emulator.state.advance(601)
    with pytest.raises(DiscordUrlExpired):
        client.fetch_attachment(stale.url)
    fresh = client.get_message(CHANNEL, message.id).attachments[0]
    assert (fresh.expires_at or 0) > stale.expires_at
    assert client.fetch_attachment(fresh.url) == b"expiring"
    tampered = fresh.url.replace("hm=", "hm=0")
    with pytest.raises(DiscordUrlExpired) as refused:
        client.fetch_attachment(tampered)
    assert refused.value.status == 403


# -- deletes ---------------------------------------------------------------------------------


def test_delete_is_idempotent_and_removes_the_bytes(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    message = client.create_message(CHANNEL, [("d.bin", b"gone soon")])
    url = message.attachments[0].url
    client.delete_message(CHANNEL, message.id)
    client.delete_message(CHANNEL, message.id)  # 404 10008 counts as deleted
    assert list(emulator.state.iter_attachment_bytes()) == []
    with pytest.raises(DiscordUrlExpired):
        client.fetch_attachment(url)
    with pytest.raises(DiscordNotFound):  # an unknown *channel* is not swallowed
        client.delete_message("999999999999999999", message.id)


def test_bulk_delete_groups_and_falls_back_for_old_messages(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    old = [client.create_message(CHANNEL, [], content=f"old{i}").id for i in range(3)]
    emulator.state.advance(15 * DAY)
    new = [client.create_message(CHANNEL, [], content=f"new{i}").id for i in range(3)]
    client.bulk_delete(CHANNEL, new + new[:1])  # duplicates are fine
    assert sorted(emulator.state.messages) == sorted(old)
    client.bulk_delete(CHANNEL, [*old, "123456789012345678"])  # 14-day rule -> one by one
    assert emulator.state.messages == {}
    client.bulk_delete(CHANNEL, [])
    stats = emulator.state.stats()
    assert stats.requests["POST /channels/{channel_id}/messages/bulk-delete"] == 2
    assert stats.requests["DELETE /channels/{channel_id}/messages/{message_id}"] == 4


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503", "reset"])
def test_transient_failures_are_retried_then_succeed(
    client: DiscordClient, emulator: EmulatorHandle, kind: str
) -> None:
    emulator.add_fault(FaultRule("GET /users/*", kind, times=2))  # type: ignore[arg-type]
    assert client.get_user(USER).id == USER
    assert client.stats().retries == 2
    assert _requests(emulator, "GET /users/{user_id}") == 1  # the two faults never got routed
    assert emulator.state.stats().faults[kind] == 2


def test_gives_up_after_max_retries(client: DiscordClient, emulator: EmulatorHandle) -> None:
    emulator.add_fault(FaultRule("GET /channels/*", "503"))
    with pytest.raises(DiscordUnavailable) as info:
        client.get_channel(CHANNEL)
    assert info.value.status == 503
    assert emulator.state.stats().faults["503"] == 4  # 1 + max_retries (3)


def test_timeout_is_retried(emulator: EmulatorHandle) -> None:
    emulator.add_fault(FaultRule("GET /users/*", "slow", times=1, delay=1.0))
    with make_client(emulator, timeout=0.3) as quick:
        assert quick.get_user(USER).id == USER
        assert quick.stats().transport_errors == 1


def test_lost_create_answer_is_retried_without_duplicating(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    emulator.add_fault(FaultRule("POST /channels/*/messages", "drop_response", times=1))
    message = client.create_message(CHANNEL, [("n.bin", b"exactly once")])
    assert list(emulator.state.messages) == [message.id]  # the nonce made the retry safe
    assert client.stats().retries == 1


def test_lost_webhook_answer_is_reported_not_retried(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    emulator.add_fault(FaultRule("POST /webhooks/*", "drop_response", times=1))
    with pytest.raises(DiscordOutcomeUnknown):
        client.execute_webhook(WEBHOOK_ID, WEBHOOK_TOKEN, [("w.bin", b"maybe")])
    assert len(emulator.state.messages) == 1  # it was applied; the caller must reconcile
    assert client.stats().retries == 0


def test_no_secret_reaches_the_logs(
    emulator: EmulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.add_fault(FaultRule("GET /webhooks/*", "503", times=1))
    with make_client(emulator) as c:
        message = c.execute_webhook(WEBHOOK_ID, WEBHOOK_TOKEN, [("s.bin", b"secret")])
        c.get_webhook_message(WEBHOOK_ID, WEBHOOK_TOKEN, message.id)
        c.fetch_attachment(message.attachments[0].url)
        emulator.state.advance(601)
        with pytest.raises(DiscordUrlExpired) as info:
            c.fetch_attachment(message.attachments[0].url)
    text = caplog.text + str(info.value) + repr(message)
    assert "/webhooks/{webhook_id}/{webhook_token}" in caplog.text  # templates are logged
    for secret in (TOKEN, WEBHOOK_TOKEN, "hm=", emulator.base_url):
        assert secret not in text


def test_exhausted_create_after_a_lost_answer_is_outcome_unknown_and_nonce_resolves_it(
    client: DiscordClient, emulator: EmulatorHandle
) -> None:
    emulator.add_fault(FaultRule("POST /channels/*/messages", "drop_response", times=1))
    emulator.add_fault(FaultRule("POST /channels/*/messages", "503", times=3))
    with pytest.raises(DiscordOutcomeUnknown):
        client.create_message(CHANNEL, [("u.bin", b"maybe")], nonce="resolve-me")
    (applied,) = emulator.state.messages  # the first attempt did create it
    again = client.create_message(CHANNEL, [("u.bin", b"maybe")], nonce="resolve-me")
    assert again.id == applied
    assert len(emulator.state.messages) == 1
