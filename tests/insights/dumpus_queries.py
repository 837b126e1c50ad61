"""The SQL the Dumpus app runs on a results database, as it builds it.

Transcribed from the app's data hooks (dumpus-app ``src/hooks/data/*.ts`` and
``src/stores/database.ts`` ``getTimeRangeDates``; whitespace normalised, text otherwise as
the app interpolates it). :func:`client_queries` yields what the app runs when its screens load
for one time range: the overview and stats screens, the three top lists with their counts
(first page and ``offset: false``), and the details screens of the top ``details`` DMs,
channels and servers. Empty template literals (the app's "TODO" queries) are left out: they
fail the same way on any file.

The app computes dates with JavaScript ``Date`` in local time; this follows it with the
device in UTC (the day strings are UTC days either way).
"""

from __future__ import annotations

import calendar
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta

TIME_RANGES = ("4weeks", "6months", "year", "lifetime")
SQL_DEFAULT_LIMIT = 10
DISCORD_CREATION = "2015-05-13"
USAGE_EVENTS = (
    "notification_clicked", "email_opened", "login_successful", "user_avatar_updated",
    "app_crashed", "oauth2_authorize_accepted", "voice_message_recorded", "message_reported",
    "message_edited", "premium_upsell_viewed", "captcha_served",
)  # fmt: skip

Query = tuple[str, str]  # (what the app calls it, SQL)


def _add_months(d: date, months: int) -> date:
    """``Date.setMonth(getMonth() + months)``: an overflowing day rolls into the next month."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(d.day, last)) + timedelta(days=max(d.day - last, 0))


def time_range_dates(conn: sqlite3.Connection, time_range: str) -> dict[str, str]:
    """``getTimeRangeDates``: start, startLimit, end, endLimit as 'YYYY-MM-DD'."""
    first, last = conn.execute("SELECT MIN(day) AS start, MAX(day) AS end FROM activity").fetchone()
    start_limit = date.fromisoformat(first if first and last else DISCORD_CREATION)
    end = date.fromisoformat(last) if first and last else date.today()
    if time_range == "4weeks":
        start = end - timedelta(days=28)
    elif time_range == "6months":
        start = _add_months(end, -6)
    elif time_range == "year":
        start = _add_months(end, -12)
    else:
        start = start_limit
    return {
        "start": start.isoformat(),
        "startLimit": start_limit.isoformat(),
        "end": end.isoformat(),
        "endLimit": end.isoformat(),
    }


def _epoch(day: str) -> str:
    """``new Date(day).getTime() / 1_000`` interpolated into a template string."""
    return str(calendar.timegm(date.fromisoformat(day).timetuple()))


def _daily(start: str, end: str, inner: str) -> str:
    days = (date.fromisoformat(end) - date.fromisoformat(start)).days
    period = 30 if days > 360 else 7 if days > 90 else 1
    return (
        "WITH RECURSIVE dates(day, day_group) AS ("
        f" VALUES('{start}', 1) UNION ALL SELECT date(day, '+1 day'),"
        f" CASE WHEN (julianday(date(day, '+1 day')) - julianday('{start}')) % {period} = 0"
        " THEN day_group + 1 ELSE day_group END FROM dates"
        f" WHERE day < date('{start}', '+{days} days'))"
        " SELECT MIN(dates.day) as period_start, MAX(dates.day) as period_end,"
        " IFNULL(SUM(joined_data.occurence_count),0) AS message_count FROM dates"
        f" LEFT JOIN ({inner}) AS joined_data ON dates.day = joined_data.day"
        " GROUP BY day_group ORDER BY period_start ASC;"
    )


def _top_channels(start: str, end: str, tail: str, where: str = "") -> str:
    return (
        "SELECT channel_name, channel_id, c.guild_id, g.guild_name,"
        " SUM(a.occurence_count) AS message_count FROM guild_channels_data c"
        " JOIN activity a ON a.associated_channel_id = c.channel_id"
        " JOIN guilds g ON g.guild_id = c.guild_id WHERE a.event_name = 'message_sent'"
        f" AND a.day BETWEEN '{start}' AND '{end}'{where} GROUP BY channel_id{tail}"
    )


def _top_dms(start: str, end: str, tail: str) -> str:
    return (
        "SELECT d.dm_user_id, d.user_name, d.user_avatar_url,"
        " SUM(a.occurence_count) AS message_count, d.channel_id FROM activity a"
        " JOIN dm_channels_data d ON a.associated_channel_id = d.channel_id"
        f" WHERE a.event_name = 'message_sent' AND a.day BETWEEN '{start}' AND '{end}'"
        f" GROUP BY d.dm_user_id{tail}"
    )


def _top_guilds(start: str, end: str, tail: str) -> str:
    return (
        "SELECT guild_name, guild_id, SUM(a.occurence_count) AS message_count FROM guilds"
        " JOIN activity a ON a.associated_guild_id = guilds.guild_id"
        f" WHERE a.event_name = 'message_sent' AND a.day BETWEEN '{start}' AND '{end}'"
        f" GROUP BY guild_id{tail}"
    )


def _page(offset: int | bool) -> str:
    if offset is False:
        return " ORDER BY message_count DESC ;"
    return f" ORDER BY message_count DESC LIMIT {SQL_DEFAULT_LIMIT} OFFSET {offset} ;"


def usage_queries(start: str, end: str) -> Iterator[Query]:
    """``useUsageStatsData``: the stats screen (and the overview's usage cards)."""
    s, e = _epoch(start), _epoch(end)
    yield "networkSize", "SELECT COUNT(DISTINCT dm_user_id) as network_size FROM dm_channels_data;"
    yield (
        "joinedGuilds",
        (
            "SELECT COUNT(DISTINCT(a.associated_guild_id)) as join_count FROM activity a"
            f" WHERE a.event_name = 'guild_joined' AND a.day BETWEEN '{start}' AND '{end}';"
        ),
    )
    yield (
        "topHour",
        (
            "SELECT hour, SUM(occurence_count) AS message_count FROM activity"
            f" WHERE event_name = 'message_sent' AND day BETWEEN '{start}' AND '{end}'"
            " GROUP BY hour ORDER BY message_count DESC LIMIT 1"
        ),
    )
    yield "spentMoney", "SELECT SUM(payment_amount) / 100 as total_spent FROM payments"
    yield (
        "messageCount",
        (
            "SELECT SUM(a.occurence_count) AS message_count FROM activity a"
            f" WHERE a.event_name = 'message_sent' AND a.day BETWEEN '{start}' AND '{end}'"
        ),
    )
    yield (
        "avgMessageCountPerDay",
        (
            "SELECT ROUND(AVG(daily_occurences)) AS average_daily_occurences FROM ("
            " SELECT day, SUM(occurence_count) AS daily_occurences FROM activity"
            f" WHERE event_name = 'message_sent' AND day BETWEEN '{start}' AND '{end}'"
            " GROUP BY day ) AS daily_summary;"
        ),
    )
    yield (
        "appStarted",
        (
            "SELECT SUM(a.occurence_count) AS app_started FROM activity a"
            f" WHERE a.event_name = 'app_opened' AND a.day BETWEEN '{start}' AND '{end}';"
        ),
    )
    yield (
        "avgAppStartedPerDay",
        (
            "SELECT ROUND(AVG(total_occurence)) as average_daily_occurences FROM ("
            " SELECT day, SUM(occurence_count) as total_occurence FROM activity"
            " WHERE event_name = 'app_opened' GROUP BY day ) daily_counts;"
        ),
    )
    between = f"WHERE started_date BETWEEN '{s}' AND '{e}'"
    yield (
        "avgSessionDuration",
        (f"SELECT AVG(duration_mins) as average_session_duration FROM sessions {between}"),
    )
    yield (
        "totalSessionDuration",
        (f"SELECT SUM(duration_mins) as total_session_duration FROM sessions {between}"),
    )
    yield "receivedCalls", f"SELECT count(*) as received_calls FROM voice_sessions {between};"
    yield (
        "usePerOs",
        (
            "SELECT SUM(duration_mins) / 60 as count, device_os as os FROM sessions"
            f" {between} GROUP BY device_os;"
        ),
    )
    for name in USAGE_EVENTS:
        yield (
            f"countEvent:{name}",
            (
                "SELECT SUM(occurence_count) as event_count FROM activity"
                f" WHERE event_name = '{name}' AND day BETWEEN '{start}' AND '{end}';"
            ),
        )
    yield (
        "timeSpentVoice",
        f"SELECT SUM(duration_mins) as time_spent FROM voice_sessions {between};",
    )


def _dm_queries(user: str, start: str, end: str) -> Iterator[Query]:
    """``useDMData`` for one DM user (its screen)."""
    yield (
        "dm.user",
        (
            "SELECT user_name, user_avatar_url, dm_user_id FROM dm_channels_data"
            f" WHERE dm_user_id = '{user}' LIMIT 1;"
        ),
    )
    yield (
        "dm.messagesCount",
        (
            "SELECT SUM(a.occurence_count) AS message_count FROM activity a"
            " JOIN dm_channels_data d ON a.associated_channel_id = d.channel_id"
            f" WHERE a.event_name = 'message_sent' AND a.day BETWEEN '{start}' AND '{end}'"
            f" AND d.dm_user_id = '{user}' GROUP BY d.dm_user_id LIMIT 1;"
        ),
    )
    yield (
        "dm.topChatHour",
        (
            "SELECT hour, SUM(a.occurence_count) AS message_count FROM activity a"
            " JOIN dm_channels_data d ON d.channel_id = a.associated_channel_id"
            f" WHERE event_name = 'message_sent' AND day BETWEEN '{start}' AND '{end}'"
            f" AND d.dm_user_id = '{user}' GROUP BY hour ORDER BY occurence_count DESC LIMIT 1"
        ),
    )
    yield (
        "dm.reactionsCount",
        (
            "SELECT SUM(a.occurence_count) AS reaction_count FROM activity a"
            " JOIN dm_channels_data d ON a.associated_channel_id = d.channel_id"
            f" WHERE a.event_name = 'add_reaction' AND d.dm_user_id = '{user}'"
            f" AND a.day BETWEEN '{start}' AND '{end}';"
        ),
    )
    yield (
        "dm.sentimentScore",
        (f"SELECT sentiment_score FROM dm_channels_data WHERE dm_user_id = '{user}';"),
    )
    yield (
        "dm.dailySentMessages",
        _daily(
            start,
            end,
            "SELECT a.day, a.occurence_count FROM activity a"
            " JOIN dm_channels_data d ON a.associated_channel_id = d.channel_id"
            f" WHERE a.event_name = 'message_sent' AND d.dm_user_id = '{user}'",
        ),
    )


def _channel_queries(channel: str, guild: str, start: str, end: str) -> Iterator[Query]:
    """``useChannelData`` (+ ``useRelatedGuild``) for one guild channel."""
    yield (
        "channel.channel",
        (
            "SELECT channel_name, channel_id, guild_id FROM guild_channels_data"
            f" WHERE channel_id = '{channel}' LIMIT 1;"
        ),
    )
    yield (
        "channel.guild",
        (
            "SELECT guild_name, guild_id, total_message_count FROM guilds"
            f" WHERE guild_id = '{guild}' LIMIT 1;"
        ),
    )
    yield (
        "channel.messagesCount",
        (
            "SELECT SUM(a.occurence_count) AS message_count FROM guild_channels_data c"
            " JOIN activity a ON a.associated_channel_id = c.channel_id"
            f" WHERE a.event_name = 'message_sent' AND c.channel_id = '{channel}'"
            f" AND a.day BETWEEN '{start}' AND '{end}' GROUP BY channel_id LIMIT 1;"
        ),
    )
    yield (
        "channel.topChatHour",
        (
            "SELECT hour, SUM(occurence_count) as occurence_count FROM activity a"
            f" WHERE event_name = 'message_sent' AND day BETWEEN '{start}' AND '{end}'"
            f" AND associated_channel_id = '{channel}' GROUP BY hour"
            " ORDER BY occurence_count DESC LIMIT 1;"
        ),
    )
    yield (
        "channel.reactionsCount",
        (
            "SELECT SUM(a.occurence_count) AS reaction_count FROM activity a"
            f" WHERE a.event_name = 'add_reaction' AND a.associated_channel_id = '{channel}'"
            f" AND a.day BETWEEN '{start}' AND '{end}';"
        ),
    )
    yield (
        "channel.dailySentMessages",
        _daily(
            start,
            end,
            "SELECT a.day, a.occurence_count FROM activity a WHERE a.event_name = 'message_sent'"
            f" AND a.associated_channel_id = '{channel}'",
        ),
    )
    yield (
        "relatedGuild.messagesCount",
        (
            "SELECT SUM(a.occurence_count) AS message_count FROM guilds"
            " JOIN activity a ON a.associated_guild_id = guilds.guild_id"
            f" WHERE a.event_name = 'message_sent' AND a.day BETWEEN '{start}' AND '{end}'"
            f" AND guilds.guild_id = '{guild}';"
        ),
    )


def _guild_queries(guild: str, start: str, end: str) -> Iterator[Query]:
    """``useGuildData`` for one server."""
    yield (
        "guild.guild",
        (
            "SELECT guild_name, guild_id, total_message_count FROM guilds"
            f" WHERE guild_id = '{guild}' LIMIT 1;"
        ),
    )
    yield (
        "guild.messagesCount",
        (
            "SELECT SUM(occurence_count) AS message_count FROM activity"
            f" WHERE event_name = 'message_sent' AND associated_guild_id = '{guild}'"
            f" AND day BETWEEN '{start}' AND '{end}';"
        ),
    )
    yield (
        "guild.joinsCount",
        (
            "SELECT IFNULL(SUM(occurence_count), 0) AS join_count FROM activity"
            f" WHERE event_name = 'guild_joined' AND associated_guild_id = '{guild}'"
            f" AND day BETWEEN '{start}' AND '{end}';"
        ),
    )
    yield (
        "guild.topChatHour",
        (
            "SELECT hour, SUM(occurence_count) AS message_count FROM activity"
            f" WHERE event_name = 'message_sent' AND associated_guild_id = '{guild}'"
            f" AND day BETWEEN '{start}' AND '{end}' GROUP BY hour"
            " ORDER BY message_count DESC LIMIT 1;"
        ),
    )
    yield (
        "guild.topBots",
        (
            "SELECT SUM(a.occurence_count) AS total_occurences, a.associated_user_id,"
            " d.user_name, d.display_name, d.user_avatar_url FROM activity a"
            " LEFT JOIN dm_channels_data d ON a.associated_user_id = d.dm_user_id"
            " WHERE a.event_name = 'application_command_used'"
            f" AND a.associated_guild_id = '{guild}'"
            f" AND a.day BETWEEN '{start}' AND '{end}' GROUP BY a.associated_user_id"
            " ORDER BY total_occurences DESC;"
        ),
    )
    yield (
        "guild.topChannels",
        _top_channels(
            start,
            end,
            f" ORDER BY message_count DESC LIMIT {SQL_DEFAULT_LIMIT};",
            f" AND a.associated_guild_id = '{guild}'",
        ),
    )
    yield (
        "guild.dailySentMessages",
        _daily(
            start,
            end,
            "SELECT a.day, a.occurence_count FROM activity a WHERE a.event_name = 'message_sent'"
            f" AND a.associated_guild_id = '{guild}'",
        ),
    )


def client_queries(conn: sqlite3.Connection, time_range: str, details: int = 3) -> Iterator[Query]:
    """Every query the app runs for ``time_range`` (screens, lists, ``details`` detail
    screens of each kind); ids of the detail screens come from the file's own top lists."""
    dates = time_range_dates(conn, time_range)
    start, end = dates["start"], dates["end"]
    yield "extremities", "SELECT MIN(day) AS start, MAX(day) AS end FROM activity"
    yield "packageData", "SELECT * FROM package_data LIMIT 1;"
    yield "dailySentMessages", _daily(start, end, "SELECT a.day, a.occurence_count FROM activity a")
    yield (
        "sendingTimes.chart",
        (
            "SELECT a.hour, SUM(a.occurence_count) as message_count FROM activity a"
            f" WHERE a.event_name = 'message_sent' AND a.day BETWEEN '{start}' AND '{end}'"
            " GROUP BY hour ORDER BY hour ASC;"
        ),
    )
    yield from usage_queries(start, end)
    yield from usage_queries(dates["startLimit"], dates["endLimit"])  # forceLifetime cards
    lists = {
        "topChannels": _top_channels,
        "topDMs": _top_dms,
        "topGuilds": _top_guilds,
    }
    for name, build in lists.items():
        yield f"{name}.count", f"SELECT COUNT(*) AS count FROM ({build(start, end, '')}) subquery;"
        yield f"{name}.page", build(start, end, _page(0))
        yield f"{name}.all", build(start, end, _page(False))
    top_dms = conn.execute(_top_dms(start, end, _page(0))).fetchall()[:details]
    for dm in top_dms:
        yield from _dm_queries(str(dm[0]), start, end)
    for ch in conn.execute(_top_channels(start, end, _page(0))).fetchall()[:details]:
        yield from _channel_queries(str(ch[1]), str(ch[2]), start, end)
    for g in conn.execute(_top_guilds(start, end, _page(0))).fetchall()[:details]:
        yield from _guild_queries(str(g[1]), start, end)
