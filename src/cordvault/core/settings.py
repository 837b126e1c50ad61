"""Settings: one pydantic-settings class, read once at the edge and passed down.

Every setting is declared here exactly once, with its help text in ``description``;
``docs/settings.md`` lists them all (a test checks the list is complete). Nothing else in the
code base reads ``os.environ``.

Required settings are checked together: :func:`require` reports *all* missing names in one
error, so a newcomer fixes their environment in one go.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cordvault.core.errors import CordvaultError, ErrorCode


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "cordvault"


class Settings(BaseSettings):
    """All configuration, from the environment (and an optional ``.env`` file)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # -- general -----------------------------------------------------------------------------
    debug_logging: bool = Field(False, description="1 turns on debug logs.")
    log_format: Literal["text", "json"] = Field(
        "text", description="text (coloured on a terminal) or json (one object per line)."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that GET /metrics (Prometheus format) requires. Unset: "
        "/metrics is off (404).",
    )
    metrics_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="How long GET /metrics reuses the values it read from the database (jobs "
        "by state, queue depth, step durations, GC backlog), so frequent scrapes of many API "
        "processes cost the database little. 0: read at every scrape.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where embedded-default state lives (SQLite DB, blobs, chunks, temp files).",
    )
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "POSTGRES_URL"),
        description="SQLAlchemy URL; default sqlite:///<DATA_DIR>/cordvault.db. "
        "POSTGRES_URL (the reference's name) is accepted too.",
    )
    broker_url: str | None = Field(
        None,
        validation_alias=AliasChoices("BROKER_URL", "REDIS_URL"),
        description="Celery broker (redis:// or amqp://). Unset: the in-process queue.",
    )
    max_json_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Cap on a request body (bytes) on every route but the upload routes; "
        "larger bodies are refused with 413 BODY_TOO_LARGE before they are parsed.",
    )
    shutdown_grace_seconds: int = Field(
        10,
        ge=1,
        description="After SIGTERM/SIGINT, requests still running get this long before they "
        "are cancelled; the server process is ended 5 s later at the latest, even when "
        "worker threads are stuck.",
    )

    # -- insights: package analysis ----------------------------------------------------------
    max_package_bytes: int = Field(
        64 * 1024**3, description="Cap on the total uncompressed size of a package (bytes)."
    )
    max_entry_bytes: int = Field(
        16 * 1024**3, description="Cap on the uncompressed size of one zip entry (bytes)."
    )
    max_compression_ratio: float = Field(
        200.0, description="Cap on uncompressed/compressed size of an entry (zip bomb guard)."
    )
    analyze_workers: int = Field(
        0, description="Processes used to analyse one package; 0 = number of CPU cores."
    )

    # -- insights server ---------------------------------------------------------------------
    dl_zip_whitelisted_domains: str = Field(
        "",
        description="Comma-separated URL prefixes accepted besides Discord's click links.",
    )
    dl_zip_tmp_path: Path | None = Field(
        None, description="Where downloaded packages are kept while a job runs."
    )
    transit_key: SecretStr | None = Field(
        None,
        description="Base64 32-byte key sealing what a queued job needs (the link). "
        "Default: generated once and kept in DATA_DIR.",
    )

    admin_token: SecretStr | None = Field(
        None, description="Bearer token of the admin routes (package upgrade). Unset: disabled."
    )
    public_url: str | None = Field(
        None,
        description="Absolute base URL of this server, used in blob URLs and as the origin a "
        "live socket signed in by the session cookie must come from. Default: the URL of the "
        "request.",
    )
    blob_store: str = Field("local", description="Where result blobs live: local | s3.")
    blob_url_ttl: int = Field(300, description="Lifetime of a blob download URL (seconds).")
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint URL (unset: AWS)."
    )
    s3_bucket: str | None = Field(None, description="S3 bucket holding result blobs.")
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key_id: SecretStr | None = Field(None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")
    job_max_attempts: int = Field(
        3, description="Attempts of a job whose worker died before it is failed (WORKER_LOST)."
    )
    job_lease_seconds: int = Field(
        30, description="A running job not heartbeating for this long is considered lost."
    )
    inprocess_workers: int = Field(
        1, description="Jobs run at once by the in-process queue (no BROKER_URL)."
    )
    max_upload_bytes: int = Field(
        8 * 1024**3, description="Cap on a package uploaded directly (bytes)."
    )
    download_max_bytes: int = Field(8 * 1024**3, description="Cap on a downloaded package (bytes).")
    download_connect_timeout: float = Field(
        10.0, description="Package download: connect timeout (seconds)."
    )
    download_read_timeout: float = Field(
        60.0, description="Package download: longest wait for the next bytes (seconds)."
    )
    download_total_timeout: float = Field(
        3600.0, description="Package download: deadline for the whole transfer (seconds)."
    )

    # -- Discord -----------------------------------------------------------------------------
    discord_api_base: str = Field(
        "https://discord.com/api/v10", description="Discord REST API base URL."
    )
    discord_cdn_base: str = Field(
        "https://cdn.discordapp.com",
        description="Discord CDN base URL the server fetches user avatars from (the insights "
        "dashboard's avatars are served through our origin; tests point it at the emulator's "
        "/cdn).",
    )
    discord_bot_token: SecretStr | None = Field(
        None, description="Bot token(s), comma-separated, for lookups and the storage backend."
    )
    discord_channel_ids: str = Field(
        "", description="Comma-separated channel ids the Discord storage backend writes to."
    )
    discord_webhook_urls: SecretStr | None = Field(
        None,
        description="Discord storage: optional webhook URLs (comma-separated), extra upload "
        "lanes with their own rate limits; a bot token must still read their channels.",
    )
    discord_max_file_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        le=100 * 1024 * 1024,
        description="Discord storage: largest attachment (bytes); 10 MiB for bots unless the "
        "server is boosted.",
    )
    discord_max_attachments: int = Field(
        10, ge=1, le=10, description="Discord storage: most chunks packed into one message."
    )
    discord_uploads_per_channel: int = Field(
        2, ge=1, le=16, description="Discord storage: concurrent message posts per channel."
    )
    discord_upload_buffer_bytes: int = Field(
        0,
        ge=0,
        description="Discord storage: most chunk bytes held for uploads at once (waiting for a "
        "message or being posted), shared by all lanes; further uploads wait (back-pressure "
        "on their clients). 0: one full message per lane.",
    )
    discord_url_refresh_margin_seconds: float = Field(
        300.0,
        ge=0,
        description="Discord storage: signed attachment URLs are refreshed this long before "
        "they expire.",
    )
    discord_orphan_grace_seconds: float = Field(
        900.0,
        ge=1,
        description="Discord storage: an unfinished message post older than this is an "
        "orphan to collect.",
    )

    # -- drive -------------------------------------------------------------------------------
    storage_backend: str = Field("local", description="Chunk storage: local | discord.")
    storage_path: Path | None = Field(
        None, description="Local chunk store directory (default <DATA_DIR>/chunks)."
    )
    message_encryption_key: SecretStr | None = Field(
        None, description="Drive master key: 32 random bytes, base64."
    )
    message_encryption_old_keys: SecretStr | None = Field(
        None,
        description="Previous drive master keys, comma-separated base64, still accepted for "
        "unwrapping file keys while a key rotation rewraps them.",
    )
    drive_secret_key: SecretStr | None = Field(
        None,
        description="Secret (at least 32 characters) signing drive login tokens and download "
        "links. Default: generated once into DATA_DIR (mode 0600).",
    )
    drive_chunk_size: int = Field(
        8 * 1024 * 1024,
        ge=64 * 1024,
        description="Plaintext bytes per stored chunk; its ciphertext must fit the store's "
        "max chunk size.",
    )
    drive_download_buffer_bytes: int = Field(
        128 * 1024 * 1024,
        ge=0,
        description="Most chunk bytes all downloads together may fetch and decrypt ahead of "
        "their clients; a read always fetches the chunk its client waits for. 0: no read-ahead.",
    )
    drive_token_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=60, description="Lifetime of a drive login token (seconds)."
    )
    drive_login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed sign-ins of one account from one client address before that "
        "pair must wait (growing delays, never a lock of the account).",
    )
    drive_login_client_max_failures: int = Field(
        20,
        ge=1,
        description="Failed sign-ins from one client address, across all accounts, before "
        "that client must wait.",
    )
    drive_login_window_seconds: int = Field(
        900,
        ge=1,
        description="Failures are forgotten once a client (or pair) has had none for this "
        "long (seconds).",
    )
    drive_login_base_delay_seconds: float = Field(
        1.0,
        gt=0,
        description="First delay once the free failures are used up; it doubles with each "
        "further failure (seconds).",
    )
    drive_login_max_delay_seconds: float = Field(
        300.0, gt=0, description="Cap on the sign-in delay of one client (seconds)."
    )
    drive_login_alert_failures: int = Field(
        200,
        ge=1,
        description="Failed sign-ins of one account across all clients within the window "
        "that raise an alert (warning log + security event); the account is never locked.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks (CIDR) of reverse proxies whose "
        "X-Forwarded-For is believed. Empty (default): the socket peer is the client.",
    )
    drive_security_log_retention_days: int = Field(
        365, ge=1, description="Security log events older than this are deleted (days)."
    )
    drive_upload_ttl_seconds: int = Field(
        24 * 3600,
        ge=60,
        description="An unfinished upload session is abandoned (chunks collected) after this.",
    )
    drive_gc_grace_seconds: int = Field(
        600,
        ge=0,
        description="Delay before the chunks of a deleted file are removed from the store "
        "(downloads already running finish).",
    )
    drive_gc_interval_seconds: float = Field(
        30.0, gt=0, description="How often the API's background garbage collector runs."
    )
    drive_catalog: bool = Field(
        True,
        description="Write encrypted catalog snapshots and a change journal to the chunk "
        "store, so `cordvault drive recover` can rebuild the database from the store alone.",
    )
    drive_catalog_journal_seconds: float = Field(
        10.0,
        ge=1,
        description="N: changes are written to the catalog journal every N seconds, so at "
        "most N seconds of metadata changes (plus one upload) are lost with the database.",
    )
    drive_catalog_snapshot_seconds: float = Field(
        3600.0,
        ge=1,
        description="A full catalog snapshot is written at least this often "
        "(seconds) while things change.",
    )
    drive_catalog_snapshot_changes: int = Field(
        1000,
        ge=1,
        description="A full catalog snapshot is written after this many changed "
        "rows since the last one.",
    )
    drive_catalog_keep_snapshots: int = Field(
        3,
        ge=1,
        description="Catalog snapshots kept; older snapshots and journal records are "
        "deleted from the store.",
    )
    drive_trash_retention_days: int = Field(
        30,
        ge=0,
        description="Days a deleted file or folder stays in its owner's trash before the "
        "collector purges it; 0 deletes at once (no trash).",
    )
    drive_file_versions_kept: int = Field(
        5,
        ge=0,
        description="Earlier contents kept per file when it is overwritten; 0 keeps none.",
    )
    drive_file_versions_days: int = Field(
        30,
        ge=0,
        description="Earlier contents older than this many days are purged by the collector; "
        "0: no age limit.",
    )
    drive_default_quota_bytes: int = Field(
        0,
        ge=0,
        description="Storage quota of an account without its own (bytes, counting trash and "
        "versions); 0 = unlimited.",
    )
    drive_public_url: str | None = Field(
        None,
        description="Base URL put in signed download links (default: the URL of the request); "
        "its origin is also accepted for a cookie-signed live socket.",
    )
    drive_dav_auth_cache_seconds: float = Field(
        60.0,
        ge=0,
        description="How long WebDAV remembers a verified app password (0: never); a revoked "
        "app password or a disabled account still fails at the next request.",
    )
    drive_client_config: Path | None = Field(
        None,
        description="Where `cordvault drive login` keeps the server URL and token "
        "(default ~/.config/cordvault/drive.json, mode 0600).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for item in (p.strip() for p in value.split(",")):
            if item:
                ipaddress.ip_network(item, strict=False)  # ValueError: INVALID_SETTINGS
        return value

    @property
    def trusted_proxy_networks(
        self,
    ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``TRUSTED_PROXIES`` parsed (validated when the settings were loaded)."""
        return tuple(
            ipaddress.ip_network(p.strip(), strict=False)
            for p in self.trusted_proxies.split(",")
            if p.strip()
        )

    # -- drive: previews (thumbnails) ---------------------------------------------------------
    preview_workers: int = Field(
        1,
        ge=0,
        le=16,
        description="Threads per API process making thumbnails without BROKER_URL (with it, "
        "cordvault worker makes them); 0 = none.",
    )
    preview_timeout_seconds: float = Field(
        30.0, gt=0, description="Wall-clock limit of one thumbnail run (then: no thumbnail)."
    )
    preview_memory_bytes: int = Field(
        1536 * 1024**2,
        ge=256 * 1024**2,
        description="Address-space limit of the thumbnail renderer process (bytes).",
    )
    preview_max_pixels: int = Field(
        64_000_000,
        ge=1_000_000,
        description="Images and video frames larger than this many pixels get no thumbnail "
        "(decompression-bomb guard).",
    )
    preview_max_source_bytes: int = Field(
        1024**3,
        ge=1024,
        description="Files larger than this get no thumbnail (the renderer reads a "
        "decrypted temporary copy).",
    )
    preview_poll_seconds: float = Field(
        5.0,
        gt=0,
        description="How often thumbnail workers look for files without thumbnails (they are "
        "also woken at once by uploads in their process).",
    )

    gc_gen0_threshold: int = Field(
        50_000,
        ge=0,
        description="First threshold of Python's cyclic garbage collector in `cordvault serve` "
        "(Python's default is 700); objects alive at startup are frozen out of collections. "
        "0 = Python's defaults.",
    )
    # -- live events (WebSocket /api/ws) ------------------------------------------------------
    live_heartbeat_seconds: float = Field(
        20.0, gt=0, description="The server sends s2c:heartbeat this often on each socket."
    )
    live_idle_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="A socket that sends nothing for this long is closed (clients send c2s:ping).",
    )
    live_auth_timeout_seconds: float = Field(
        10.0, gt=0, description="Time a new socket has to authenticate."
    )
    live_send_queue: int = Field(
        256,
        ge=8,
        description="Packets queued for one socket; a client that falls this far behind is "
        "disconnected (never buffered without limit).",
    )
    live_flush_seconds: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Events are pushed to live sockets at most this often: those arriving "
        "meanwhile go out together (one send-queue entry; one frame for ?batch=1 sockets). "
        "0 = at once.",
    )
    live_max_packet_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest packet a client may send (bytes)."
    )
    live_packets_per_second: float = Field(
        20.0,
        gt=0,
        description="Sustained packets per second a socket may send (bursts of twice that); "
        "more are refused with RATE_LIMITED.",
    )

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            url = self.database_url
            # The reference hands out postgres:// URLs; SQLAlchemy wants an explicit driver.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{self.data_dir / 'cordvault.db'}"


def load_settings(**overrides: object) -> Settings:
    """Build the settings once; invalid values become one INVALID_SETTINGS error."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        names = sorted({str(err["loc"][0]).upper() for err in exc.errors() if err["loc"]})
        raise CordvaultError(
            ErrorCode.INVALID_SETTINGS,
            "invalid settings: " + ", ".join(names),
            details={"names": names},
        ) from None


def require(settings: Settings, *names: str) -> None:
    """Raise one MISSING_SETTINGS error naming every listed setting that is unset."""
    missing = [n.upper() for n in names if getattr(settings, n.lower()) in (None, "")]
    if missing:
        raise CordvaultError(
            ErrorCode.MISSING_SETTINGS,
            "missing required settings: " + ", ".join(missing),
            details={"names": missing},
        )
