// Every number of the insights dashboard, as SQL over the result database (schema:
// src/cordvault/insights/output/sqlite_schema.py, meaning: docs/insights-semantics.md).
//
// The database answers through db.query(sql, params) -> rows (sqlite.js: a worker or the main
// thread). Queries are shaped for the clustered activity key (event_name, day, hour, ...):
// every activity query fixes event_name and a day range, so SQLite reads one contiguous slice
// of the table, and the big per-row work (local time zone, streaks, names) happens on the few
// grouped rows that come back. Days in the database are UTC days; a range is a pair of UTC
// days, both included.

export const USAGE_EVENTS = [
  "app_opened", "guild_joined", "login_successful", "notification_clicked", "email_opened",
  "message_edited", "app_crashed", "voice_message_recorded", "message_reported",
  "premium_upsell_viewed", "captcha_served", "user_avatar_updated", "oauth2_authorize_accepted",
  "remote_auth_login",
];
const ALL_EVENTS = ["message_sent", "add_reaction", "application_command_used", ...USAGE_EVENTS];
export const SECTIONS = ["account", "activity", "messages", "servers"];
const FAR_PAST = "0000-01-01";
const FAR_FUTURE = "9999-12-31";
const DAY_MS = 86_400_000;

// ---- dates (UTC days as "YYYY-MM-DD") --------------------------------------------------

export function dayMs(day) {
  return Date.parse(`${day}T00:00:00Z`);
}

export function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function addMonths(day, months) {
  const d = new Date(dayMs(day));
  d.setUTCMonth(d.getUTCMonth() + months);
  return isoDay(d.getTime());
}

/** Unix seconds as the 10-digit text the sessions tables hold. */
function epochText(ms) {
  return String(Math.floor(ms / 1000)).padStart(10, "0");
}

/**
 * The UTC days of a named range. Ranges end on the last day with data (an old package's
 * "last year" is the year before its export, as in the Dumpus app); lifetime has no bounds at
 * all, so nothing is ever left out of it. custom: {from, to}.
 */
export function rangeOf(name, bounds, custom) {
  const last = bounds.last ?? isoDay(Date.now());
  if (name === "lifetime") return { name, start: FAR_PAST, end: FAR_FUTURE, shownStart: bounds.first, shownEnd: bounds.last };
  let start;
  let end = last;
  if (name === "year") start = addMonths(last, -12);
  else if (name === "6months") start = addMonths(last, -6);
  else if (name === "4weeks") start = isoDay(dayMs(last) - 28 * DAY_MS);
  else if (name === "custom") {
    start = custom?.from || bounds.first || last;
    end = custom?.to || last;
    if (start > end) [start, end] = [end, start];
  } else throw new Error(`unknown range ${name}`);
  return { name, start, end, shownStart: start, shownEnd: end };
}

function rangeParams(range) {
  const from = range.start === FAR_PAST ? "0000000000" : epochText(dayMs(range.start));
  const to = range.end === FAR_FUTURE ? "9999999999" : epochText(dayMs(range.end) + DAY_MS - 1000);
  return { days: [range.start, range.end], secs: [from, to] };
}

// ---- what the file is -----------------------------------------------------------------

/** Package owner, sections, first/last day, and the name tables (small: read whole). */
export async function loadMeta(db) {
  const tables = new Set((await db.query("SELECT name FROM sqlite_master WHERE type = 'table'")).map((r) => r.name));
  for (const t of ["activity", "package_data", "dm_channels_data", "guild_channels_data", "guilds", "sessions", "voice_sessions", "payments"]) {
    if (!tables.has(t)) throw new Error(`This is not an insights result database (no ${t} table).`);
  }
  const pkg = (await db.query("SELECT * FROM package_data LIMIT 1"))[0] ?? {};
  const meta = {};
  if (tables.has("cordvault_meta")) {
    for (const r of await db.query("SELECT key, value FROM cordvault_meta")) meta[r.key] = r.value;
  }
  let sections = null;
  try {
    sections = meta.sections ? JSON.parse(meta.sections) : null;
  } catch {
    sections = null;
  }
  let first = null;
  let last = null;
  for (const ev of ALL_EVENTS) {
    // Two index probes each: SQLite optimises a lone MIN() or MAX() under an equality on the
    // key's first column, not both in one SELECT (that scanned 800 k rows).
    const [r] = await db.query(
      "SELECT (SELECT MIN(day) FROM activity WHERE event_name = ?1) AS first," +
        " (SELECT MAX(day) FROM activity WHERE event_name = ?1) AS last",
      [ev],
    );
    if (r && r.first) {
      if (first === null || r.first < first) first = r.first;
      if (last === null || r.last > last) last = r.last;
    }
  }
  const dms = new Map();
  for (const r of await db.query("SELECT channel_id, dm_user_id, user_name, display_name, total_message_count, total_voice_channel_duration FROM dm_channels_data")) dms.set(r.channel_id, r);
  const groups = new Map();
  if (tables.has("group_dm_channels_data")) {
    for (const r of await db.query("SELECT channel_id, name, recipient_count, total_message_count FROM group_dm_channels_data")) groups.set(r.channel_id, r);
  }
  const channels = new Map();
  for (const r of await db.query("SELECT channel_id, channel_name, guild_id, total_message_count FROM guild_channels_data")) channels.set(r.channel_id, r);
  const guilds = new Map();
  for (const r of await db.query("SELECT guild_id, guild_name FROM guilds")) guilds.set(r.guild_id, r);
  return { pkg, meta, sections, partial: Boolean(pkg.package_is_partial), bounds: { first, last }, dms, groups, channels, guilds };
}

// ---- one time range ---------------------------------------------------------------------

/** Messages per UTC hour ({h: hours since 1970, n}) in the range, for a filter (channel ids or a guild). */
export async function messageHours(db, range, filter) {
  const { days } = rangeParams(range);
  let where = "";
  const params = [...days];
  if (filter?.guild) {
    where = " AND associated_guild_id = ?";
    params.push(filter.guild);
  } else if (filter?.channels) {
    where = ` AND associated_channel_id IN (${filter.channels.map(() => "?").join(",")})`;
    params.push(...filter.channels);
  }
  // h = hours since 1970 (UTC): one integer cell instead of a day string and an hour; at
  // 150 k rows, handing text cells out of sql.js cost more than the scan itself.
  return db.query(
    "SELECT unixepoch(day) / 3600 + hour AS h, SUM(occurence_count) AS n FROM activity" +
      ` WHERE event_name = 'message_sent' AND day BETWEEN ? AND ?${where} GROUP BY day, hour`,
    params,
  );
}

/**
 * Lifetime messages per channel without scanning activity: the channel tables carry each
 * channel's total (total_message_count is, by docs/insights-semantics.md, the sum of its
 * message_sent rows). Sorting 250 k activity rows by channel took seconds in the browser.
 */
function lifetimePerChannel(meta) {
  const out = [];
  for (const d of meta.dms.values()) if (d.total_message_count > 0) out.push({ channel: d.channel_id, guild: null, n: d.total_message_count });
  for (const g of meta.groups.values()) if (g.total_message_count > 0) out.push({ channel: g.channel_id, guild: null, n: g.total_message_count });
  for (const c of meta.channels.values()) if (c.total_message_count > 0) out.push({ channel: c.channel_id, guild: c.guild_id, n: c.total_message_count });
  return out;
}

/** Everything the overview shows for one range. */
export async function loadRange(db, meta, range) {
  const { days, secs } = rangeParams(range);
  const hours = await messageHours(db, range);
  const perChannel = range.name === "lifetime" ? lifetimePerChannel(meta) : await db.query(
    "SELECT associated_channel_id AS channel, associated_guild_id AS guild, SUM(occurence_count) AS n" +
      " FROM activity WHERE event_name = 'message_sent' AND day BETWEEN ? AND ?" +
      " GROUP BY associated_channel_id, associated_guild_id",
    days,
  );
  const events = {};
  for (const r of await db.query(
    `SELECT event_name, SUM(occurence_count) AS n FROM activity WHERE event_name IN (${USAGE_EVENTS.map(() => "?").join(",")})` +
      " AND day BETWEEN ? AND ? GROUP BY event_name",
    [...USAGE_EVENTS, ...days],
  )) events[r.event_name] = r.n;
  const appOpenedByOs = await db.query(
    "SELECT extra_field_1 AS os, SUM(occurence_count) AS n FROM activity" +
      " WHERE event_name = 'app_opened' AND day BETWEEN ? AND ? GROUP BY extra_field_1 ORDER BY n DESC",
    days,
  );
  const sessionsByOs = await db.query(
    "SELECT device_os AS os, COUNT(*) AS sessions, SUM(duration_mins) AS minutes FROM sessions" +
      " WHERE started_date BETWEEN ? AND ? GROUP BY device_os ORDER BY minutes DESC",
    secs,
  );
  const voiceByChannel = await db.query(
    "SELECT channel_id, guild_id, COUNT(*) AS sessions, SUM(duration_mins) AS minutes FROM voice_sessions" +
      " WHERE started_date BETWEEN ? AND ? GROUP BY channel_id, guild_id ORDER BY minutes DESC",
    secs,
  );
  const apps = await db.query(
    "SELECT associated_user_id AS app, COUNT(DISTINCT associated_guild_id) AS servers, SUM(occurence_count) AS n" +
      " FROM activity WHERE event_name = 'application_command_used' AND day BETWEEN ? AND ?" +
      " GROUP BY associated_user_id ORDER BY n DESC",
    days,
  );
  const reactions = await db.query(
    "SELECT extra_field_1 AS emoji, MAX(extra_field_2) AS custom, SUM(occurence_count) AS n FROM activity" +
      " WHERE event_name = 'add_reaction' AND day BETWEEN ? AND ? GROUP BY extra_field_1 ORDER BY n DESC",
    days,
  );
  const payments = await db.query(
    "SELECT payment_currency AS currency, COUNT(*) AS payments, SUM(payment_amount) AS amount FROM payments" +
      " WHERE payment_date BETWEEN ? AND ? GROUP BY payment_currency ORDER BY amount DESC",
    days,
  );
  return { range, hours, lists: buildLists(meta, perChannel, voiceByChannel), events, appOpenedByOs, sessionsByOs, voice: voiceRows(meta, voiceByChannel), apps, reactions, payments };
}

export function initialsOf(name) {
  const words = String(name ?? "?").replace(/[#@].*$/, "").split(/[\s._-]+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0]).join("");
  return (letters || "?").toUpperCase();
}

/** Ranked DMs, group DMs, channels and servers from per-channel message counts. */
export function buildLists(meta, perChannel, voiceByChannel = []) {
  const voiceOf = new Map();
  for (const v of voiceByChannel) voiceOf.set(v.channel_id, (voiceOf.get(v.channel_id) ?? 0) + v.minutes);
  const dms = [];
  const groups = [];
  const channels = [];
  const guilds = new Map();
  for (const { channel, guild, n } of perChannel) {
    const dm = meta.dms.get(channel);
    if (dm) {
      const name = dm.display_name || dm.user_name;
      dms.push({ kind: "dm", id: channel, name, sub: dm.display_name ? dm.user_name : "", userId: dm.dm_user_id, initials: initialsOf(name), n, voice: voiceOf.get(channel) ?? 0 });
      continue;
    }
    const group = meta.groups.get(channel);
    if (group) {
      const name = group.name || `Group of ${group.recipient_count}`;
      groups.push({ kind: "group", id: channel, name, sub: `${group.recipient_count} people`, initials: initialsOf(name), n, voice: voiceOf.get(channel) ?? 0 });
      continue;
    }
    const ch = meta.channels.get(channel);
    if (ch || guild) {
      const gid = ch?.guild_id ?? guild;
      const gname = meta.guilds.get(gid)?.guild_name ?? "Unknown server";
      if (ch) channels.push({ kind: "channel", id: channel, name: `#${ch.channel_name}`, sub: gname, guild: gid, initials: initialsOf(ch.channel_name), n, voice: voiceOf.get(channel) ?? 0 });
      const g = guilds.get(gid) ?? { kind: "guild", id: gid, name: gname, sub: "", initials: initialsOf(gname), n: 0, voice: 0 };
      g.n += n;
      guilds.set(gid, g);
    }
  }
  for (const [cid, minutes] of voiceOf) {
    const gid = meta.channels.get(cid)?.guild_id;
    const g = gid && guilds.get(gid);
    if (g) g.voice += minutes;
  }
  const rank = (list) => list.sort((a, b) => b.n - a.n || String(a.name).localeCompare(String(b.name)));
  return { dms: rank(dms), groups: rank(groups), channels: rank(channels), guilds: rank([...guilds.values()]) };
}

/** Voice minutes per channel with names, and per server. */
function voiceRows(meta, voiceByChannel) {
  const byChannel = voiceByChannel.map((v) => {
    const ch = meta.channels.get(v.channel_id);
    const dm = meta.dms.get(v.channel_id);
    const group = meta.groups.get(v.channel_id);
    const gid = v.guild_id ?? ch?.guild_id ?? null;
    const name = ch ? `#${ch.channel_name}` : dm ? `Call with ${dm.display_name || dm.user_name}` : group ? group.name || "Group call" : v.channel_id;
    return { channel: v.channel_id, name, server: gid ? meta.guilds.get(gid)?.guild_name ?? "Unknown server" : "Direct messages", sessions: v.sessions, minutes: v.minutes };
  });
  const servers = new Map();
  for (const row of byChannel) {
    const s = servers.get(row.server) ?? { server: row.server, sessions: 0, minutes: 0 };
    s.sessions += row.sessions;
    s.minutes += row.minutes;
    servers.set(row.server, s);
  }
  const total = byChannel.reduce((t, r) => t + r.minutes, 0);
  const sessions = byChannel.reduce((t, r) => t + r.sessions, 0);
  return { total, sessions, byChannel, byServer: [...servers.values()].sort((a, b) => b.minutes - a.minutes) };
}

/** A drill-down: one DM / group / channel / server over the range. */
export async function loadDrill(db, range, entry) {
  const { days, secs } = rangeParams(range);
  const filter = entry.kind === "guild" ? { guild: entry.id } : { channels: [entry.id] };
  const hours = await messageHours(db, range, filter);
  const reactWhere = entry.kind === "guild"
    ? "associated_channel_id IN (SELECT channel_id FROM guild_channels_data WHERE guild_id = ?)"
    : "associated_channel_id = ?";
  const [r] = await db.query(
    `SELECT SUM(occurence_count) AS n FROM activity WHERE event_name = 'add_reaction' AND day BETWEEN ? AND ? AND ${reactWhere}`,
    [...days, entry.id],
  );
  const voiceWhere = entry.kind === "guild"
    ? "(guild_id = ? OR channel_id IN (SELECT channel_id FROM guild_channels_data WHERE guild_id = ?))"
    : "channel_id = ?";
  const [v] = await db.query(
    `SELECT COUNT(*) AS sessions, SUM(duration_mins) AS minutes FROM voice_sessions WHERE started_date BETWEEN ? AND ? AND ${voiceWhere}`,
    entry.kind === "guild" ? [...secs, entry.id, entry.id] : [...secs, entry.id],
  );
  let channels = null;
  if (entry.kind === "guild") {
    channels = await db.query(
      "SELECT c.channel_id, c.channel_name, SUM(a.occurence_count) AS n FROM activity a" +
        " JOIN guild_channels_data c ON c.channel_id = a.associated_channel_id" +
        " WHERE a.event_name = 'message_sent' AND a.day BETWEEN ? AND ? AND a.associated_guild_id = ?" +
        " GROUP BY c.channel_id ORDER BY n DESC",
      [...days, entry.id],
    );
  }
  return { hours, reactions: r?.n ?? 0, voiceSessions: v?.sessions ?? 0, voiceMinutes: v?.minutes ?? 0, channels };
}

// ---- local time -------------------------------------------------------------------------


/** The viewer's UTC offset (ms to add) at a UTC instant; cached per UTC day and hour. */
function offsetAt(ms) {
  return -new Date(ms).getTimezoneOffset() * 60_000;
}

/**
 * Fold ({h: UTC hours since 1970, n}) rows into the viewer's time zone: messages per local day,
 * per hour of day, per day of week (0 = Sunday), the total, streaks and the busiest day.
 * Local time is UTC plus the zone's offset, looked up once per UTC day (twice on days whose
 * offset changes, i.e. daylight-saving switches): a Date per row was the slowest part at
 * 150 k rows.
 */
export function foldHours(rows) {
  const perDayIndex = new Map(); // local day number since 1970-01-01 -> messages
  const byHour = new Array(24).fill(0);
  const byWeekday = new Array(7).fill(0);
  let total = 0;
  let cachedDay = null;
  let startOffset = 0;
  let endOffset = 0;
  for (const { h, n } of rows) {
    const utc = h * 3_600_000;
    const utcDay = Math.floor(h / 24);
    if (utcDay !== cachedDay) {
      cachedDay = utcDay;
      startOffset = offsetAt(utcDay * DAY_MS);
      endOffset = offsetAt(utcDay * DAY_MS + DAY_MS - 1);
    }
    const local = utc + (startOffset === endOffset ? startOffset : offsetAt(utc));
    const dayIndex = Math.floor(local / DAY_MS);
    perDayIndex.set(dayIndex, (perDayIndex.get(dayIndex) ?? 0) + n);
    byHour[Math.floor((local - dayIndex * DAY_MS) / 3_600_000)] += n;
    byWeekday[(((dayIndex + 4) % 7) + 7) % 7] += n; // 1970-01-01 was a Thursday
    total += n;
  }
  const indexes = [...perDayIndex.keys()].sort((a, b) => a - b);
  const perDay = new Map(indexes.map((i) => [isoDay(i * DAY_MS), perDayIndex.get(i)]));
  let best = null;
  let longest = null;
  let runStart = null;
  let prev = null;
  for (const i of indexes) {
    const n = perDayIndex.get(i);
    if (!best || n > best.n) best = { day: isoDay(i * DAY_MS), n };
    if (n <= 0) {
      runStart = null;
      continue;
    }
    if (runStart === null || prev !== i - 1) runStart = i;
    prev = i;
    const days = i - runStart + 1;
    if (!longest || days > longest.days) longest = { start: isoDay(runStart * DAY_MS), end: isoDay(i * DAY_MS), days };
  }
  return { perDay, byHour, byWeekday, total, activeDays: perDay.size, best, longest };
}

function weekStart(day) {
  const ms = dayMs(day);
  const weekday = (new Date(ms).getUTCDay() + 6) % 7; // Monday first
  return isoDay(ms - weekday * DAY_MS);
}

/** A gap-free series of [period start day, messages] at "day", "week" or "month" steps. */
export function series(perDay, step) {
  const days = [...perDay.keys()].sort();
  if (days.length === 0) return [];
  const keyOf = step === "month" ? (d) => `${d.slice(0, 7)}-01` : step === "week" ? weekStart : (d) => d;
  const sums = new Map();
  for (const d of days) sums.set(keyOf(d), (sums.get(keyOf(d)) ?? 0) + perDay.get(d));
  const out = [];
  let cur = keyOf(days[0]);
  const end = keyOf(days[days.length - 1]);
  while (cur <= end) {
    out.push([cur, sums.get(cur) ?? 0]);
    if (step === "month") cur = addMonths(cur, 1);
    else cur = isoDay(dayMs(cur) + (step === "week" ? 7 : 1) * DAY_MS);
  }
  return out;
}
