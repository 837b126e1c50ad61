"""The output SQLite schema (the Dumpus client's queries read these exact names).

The reference tables and columns are kept verbatim (including the ``occurence_count`` typo);
ours are added beside them (``group_dm_channels_data``, ``cordvault_meta``). Meaning of every
value: ``docs/insights-semantics.md``. Bump :data:`SCHEMA_VERSION` on any change and document it.
"""

from __future__ import annotations

SCHEMA_VERSION = "cordvault-2"

TABLES: dict[str, str] = {
    # Clustered on its key (WITHOUT ROWID): one b-tree instead of a table plus a primary-key
    # index that repeated every column but the count. Such a key cannot hold NULLs, and the
    # user/channel/guild/extra_field_1 columns are NULL where they do not apply, so the key is
    # (event_name, day, hour, cordvault_order): cordvault_order numbers the rows of one
    # (event_name, day, hour) in the order of (associated_channel_id, associated_guild_id,
    # associated_user_id, extra_field_1), NULLs first. The rows sit in the same order as in
    # the reference's index and every value the client reads is unchanged; the writer keeps
    # the reference's key unique. See docs/insights-semantics.md "Physical layout".
    "activity": """
        CREATE TABLE activity (
            event_name TEXT NOT NULL,
            day TEXT NOT NULL,
            hour INTEGER NOT NULL,
            occurence_count INTEGER NOT NULL,
            associated_user_id TEXT,
            associated_channel_id TEXT,
            associated_guild_id TEXT,
            extra_field_1 TEXT,
            extra_field_2 TEXT,
            cordvault_order INTEGER NOT NULL,
            PRIMARY KEY (event_name, day, hour, cordvault_order)
        ) WITHOUT ROWID""",
    "dm_channels_data": """
        CREATE TABLE dm_channels_data (
            channel_id TEXT NOT NULL PRIMARY KEY,
            dm_user_id TEXT NOT NULL,
            user_name TEXT NOT NULL,
            display_name TEXT,
            user_avatar_url TEXT,
            total_message_count INTEGER NOT NULL,
            total_voice_channel_duration INTEGER NOT NULL,
            sentiment_score REAL NOT NULL
        )""",
    "group_dm_channels_data": """
        CREATE TABLE group_dm_channels_data (
            channel_id TEXT NOT NULL PRIMARY KEY,
            name TEXT,
            recipient_count INTEGER NOT NULL,
            recipient_ids TEXT NOT NULL,
            total_message_count INTEGER NOT NULL,
            total_voice_channel_duration INTEGER NOT NULL
        )""",
    "guild_channels_data": """
        CREATE TABLE guild_channels_data (
            channel_id TEXT NOT NULL PRIMARY KEY,
            channel_name TEXT NOT NULL,
            guild_id TEXT NOT NULL,
            total_message_count INTEGER NOT NULL,
            total_voice_channel_duration INTEGER NOT NULL
        )""",
    "guilds": """
        CREATE TABLE guilds (
            guild_id TEXT NOT NULL PRIMARY KEY,
            guild_name TEXT NOT NULL,
            total_message_count INTEGER NOT NULL
        )""",
    "payments": """
        CREATE TABLE payments (
            payment_id TEXT NOT NULL PRIMARY KEY,
            payment_date TEXT NOT NULL,
            payment_amount INTEGER NOT NULL,
            payment_currency TEXT NOT NULL,
            payment_description TEXT NOT NULL
        )""",
    "voice_sessions": """
        CREATE TABLE voice_sessions (
            channel_id TEXT NOT NULL,
            guild_id TEXT,
            duration_mins INTEGER NOT NULL,
            started_date TEXT NOT NULL,
            ended_date TEXT NOT NULL,
            PRIMARY KEY (channel_id, started_date)
        )""",
    "sessions": """
        CREATE TABLE sessions (
            started_date TEXT NOT NULL,
            ended_date TEXT NOT NULL,
            duration_mins INTEGER NOT NULL,
            device_os TEXT NOT NULL
        )""",
    "package_data": """
        CREATE TABLE package_data (
            package_id TEXT NOT NULL,
            package_version TEXT NOT NULL,
            package_owner_id TEXT NOT NULL,
            package_owner_name TEXT NOT NULL,
            package_owner_display_name TEXT,
            package_owner_avatar_url TEXT,
            package_is_partial BOOLEAN NOT NULL DEFAULT 0
        )""",
    "cordvault_meta": """
        CREATE TABLE cordvault_meta (
            key TEXT NOT NULL PRIMARY KEY,
            value TEXT NOT NULL
        )""",
}

# Column order of each table, as rows are written and as expected.json lists them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "activity": (
        "event_name",
        "day",
        "hour",
        "occurence_count",
        "associated_user_id",
        "associated_channel_id",
        "associated_guild_id",
        "extra_field_1",
        "extra_field_2",
    ),
    "dm_channels_data": (
        "channel_id",
        "dm_user_id",
        "user_name",
        "display_name",
        "user_avatar_url",
        "total_message_count",
        "total_voice_channel_duration",
        "sentiment_score",
    ),
    "group_dm_channels_data": (
        "channel_id",
        "name",
        "recipient_count",
        "recipient_ids",
        "total_message_count",
        "total_voice_channel_duration",
    ),
    "guild_channels_data": (
        "channel_id",
        "channel_name",
        "guild_id",
        "total_message_count",
        "total_voice_channel_duration",
    ),
    "guilds": ("guild_id", "guild_name", "total_message_count"),
    "payments": (
        "payment_id",
        "payment_date",
        "payment_amount",
        "payment_currency",
        "payment_description",
    ),
    "voice_sessions": ("channel_id", "guild_id", "duration_mins", "started_date", "ended_date"),
    "sessions": ("started_date", "ended_date", "duration_mins", "device_os"),
    "package_data": (
        "package_id",
        "package_version",
        "package_owner_id",
        "package_owner_name",
        "package_owner_display_name",
        "package_owner_avatar_url",
        "package_is_partial",
    ),
    "cordvault_meta": ("key", "value"),
}

# Built after the bulk inserts (cheaper than maintaining them row by row); chosen against the
# client's read queries. The clustered activity key already serves activity(event_name, day).
INDEXES: tuple[str, ...] = (
    "CREATE INDEX idx_activity_event_guild_day ON activity (event_name, associated_guild_id, day)",
    "CREATE INDEX idx_activity_event_channel_day"
    " ON activity (event_name, associated_channel_id, day)",
    "CREATE INDEX idx_sessions_started_date ON sessions (started_date)",
    "CREATE INDEX idx_voice_sessions_started_date ON voice_sessions (started_date)",
    "CREATE INDEX idx_dm_channels_dm_user_id ON dm_channels_data (dm_user_id)",
    "CREATE INDEX idx_guild_channels_guild_id ON guild_channels_data (guild_id)",
)
