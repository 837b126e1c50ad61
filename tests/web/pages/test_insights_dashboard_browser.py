"""The insights dashboard in a real browser, on a generated package analysed to SQLite.

The numbers the page shows are checked against the generator's expected tables (a reading of
docs/insights-semantics.md that shares no code with the parser or the page) and, for time
ranges and drill-downs, against SQL run here in Python on the same file. Every request the page
makes is recorded: none may leave our origin, none may carry the database.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, Request, expect
from tests.insights.dumpus_queries import time_range_dates
from tests.web.pages.conftest import ContextFactory, Live

from cordvault.core.settings import Settings
from cordvault.insights.analyze import analyze_package
from cordvault.insights.generator import Expected, GenOptions, generate_package

pytestmark = pytest.mark.browser
SQLITE_MAGIC = b"SQLite format 3\x00"
LIFETIME = ("0000-01-01", "9999-12-31")  # the page's lifetime range: no bounds at all


@dataclass
class Result:
    sqlite: Path
    expected: Expected


def _analyse(tmp: Path, variant: str, seed: int) -> Result:
    package = tmp / f"{variant}.zip"
    expected = generate_package(
        package, GenOptions(variant=variant, seed=seed, messages=3000, events=6000)
    )
    out = tmp / f"{variant}.sqlite"
    data = tmp / "data"
    data.mkdir(exist_ok=True, mode=0o700)
    analyze_package(package, out, settings=Settings(data_dir=data, analyze_workers=1))
    return Result(out, expected)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Result:
    return _analyse(tmp_path_factory.mktemp("dash"), "modern", 5)


class Traffic:
    """Every request of a browser context: (method, url, body bytes)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    def record(self, request: Request) -> None:
        self.seen.append((request.method, request.url, request.post_data_buffer or b""))

    def assert_private(self, base: str) -> None:
        assert self.seen, "no request recorded"
        for method, url, body in self.seen:
            assert url.startswith((f"{base}/", "blob:", "data:")), url
            assert method == "GET", (method, url)
            assert SQLITE_MAGIC not in body, url


@pytest.fixture
def page_and_traffic(live: Live, context_factory: ContextFactory) -> Iterator[tuple[Page, Traffic]]:
    ctx = context_factory(accept_downloads=True, locale="en-US", timezone_id="UTC")
    traffic = Traffic()
    ctx.on("request", traffic.record)
    page = ctx.new_page()
    yield page, traffic
    traffic.assert_private(live.base)


def _value(page: Page, key: str, scope: str = "#headline") -> str:
    return page.locator(f"{scope} dd[data-key={key}]").get_attribute("data-value") or ""


def _wait_shown(page: Page, prefix: str) -> None:
    expect(page.locator("#dashboard")).to_have_attribute("data-shown", _starts(prefix))


def _starts(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix))


def _open_file(page: Page, base: str, path: Path) -> None:
    page.goto(f"{base}/insights/dashboard")
    page.get_by_label("Or choose a result file (.sqlite) from this computer").set_input_files(path)
    _wait_shown(page, "lifetime:")


def _range_numbers(db: Path, start: str, end: str) -> dict[str, object]:
    """What the headline must say for UTC days start..end (both included), by plain SQL."""
    if start == LIFETIME[0]:
        s, e = "0000000000", "9999999999"
    else:
        s = f"{int(datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp()):010d}"
        e_day = datetime.fromisoformat(end).replace(tzinfo=UTC) + timedelta(days=1)
        e = f"{int(e_day.timestamp()) - 1:010d}"
    with sqlite3.connect(db) as conn:
        (messages,) = conn.execute(
            "SELECT IFNULL(SUM(occurence_count), 0) FROM activity"
            " WHERE event_name = 'message_sent' AND day BETWEEN ? AND ?",
            (start, end),
        ).fetchone()
        sessions = conn.execute(
            "SELECT COUNT(*), IFNULL(SUM(duration_mins), 0) FROM sessions"
            " WHERE started_date BETWEEN ? AND ?",
            (s, e),
        ).fetchone()
        voice = conn.execute(
            "SELECT COUNT(*), IFNULL(SUM(duration_mins), 0) FROM voice_sessions"
            " WHERE started_date BETWEEN ? AND ?",
            (s, e),
        ).fetchone()
        pay = conn.execute(
            "SELECT payment_currency, COUNT(*), SUM(payment_amount) FROM payments"
            " WHERE payment_date BETWEEN ? AND ? GROUP BY payment_currency",
            (start, end),
        ).fetchall()
    return {
        "messages": str(messages),
        "sessions": f"{sessions[0]}:{sessions[1]}",
        "voice": f"{voice[0]}:{voice[1]}",
        "payments": ",".join(sorted(f"{c}:{n}:{a}" for c, n, a in pay)),
    }


def test_headline_numbers_match_the_generator(
    live: Live, page_and_traffic: tuple[Page, Traffic], result: Result
) -> None:
    page, _traffic = page_and_traffic
    _open_file(page, live.base, result.sqlite)
    exp = result.expected
    total = sum(r[3] for r in exp.rows("activity") if r[0] == "message_sent")
    assert _value(page, "messages") == str(total)
    expect(page.locator("#headline dd[data-key=messages]")).to_have_text(f"{total:,}")

    dms = list(exp.rows("dm_channels_data"))
    top_dm = max(r[5] for r in dms)
    shown_dm = _value(page, "top-dm").split(":")
    assert int(shown_dm[1]) == top_dm
    assert shown_dm[0] in {r[0] for r in dms if r[5] == top_dm}
    names = {r[0]: r[3] or r[2] for r in dms}
    expect(page.locator("#headline dd[data-key=top-dm]")).to_contain_text(names[shown_dm[0]])

    guilds = list(exp.rows("guilds"))
    top_guild = max(r[2] for r in guilds)
    shown_guild = _value(page, "top-guild").split(":")
    assert int(shown_guild[1]) == top_guild
    assert shown_guild[0] in {r[0] for r in guilds if r[2] == top_guild}

    channels = list(exp.rows("guild_channels_data"))
    top_channel = max(r[3] for r in channels)
    shown_channel = _value(page, "top-channel").split(":")
    assert int(shown_channel[1]) == top_channel
    by_id = {r[0]: r[1] for r in channels}
    expect(page.locator("#headline dd[data-key=top-channel]")).to_contain_text(
        f"#{by_id[shown_channel[0]]}"
    )

    sessions = list(exp.rows("sessions"))
    assert _value(page, "sessions") == f"{len(sessions)}:{sum(r[2] for r in sessions)}"
    voice = list(exp.rows("voice_sessions"))
    assert voice, "the generated package should have voice sessions"
    assert _value(page, "voice") == f"{len(voice)}:{sum(r[2] for r in voice)}"
    pay: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in exp.rows("payments"):
        pay[r[3]][0] += 1
        pay[r[3]][1] += r[2]
    assert pay, "the generated package should have payments"
    assert _value(page, "payments") == ",".join(sorted(f"{c}:{n}:{a}" for c, (n, a) in pay.items()))
    # The time zone is stated; the database can be downloaded as it is.
    expect(page.locator("#tz-note")).to_contain_text("UTC")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download the SQLite file").click()
    assert Path(dl.value.path()).read_bytes() == result.sqlite.read_bytes()


def test_time_ranges_change_every_number(
    live: Live, page_and_traffic: tuple[Page, Traffic], result: Result
) -> None:
    page, _traffic = page_and_traffic
    _open_file(page, live.base, result.sqlite)
    lifetime = _value(page, "messages")
    with sqlite3.connect(result.sqlite) as conn:
        ranges = {name: time_range_dates(conn, name) for name in ("year", "6months", "4weeks")}
    labels = {"year": "Last year", "6months": "6 months", "4weeks": "4 weeks"}
    seen = set()
    for name, dates in ranges.items():
        page.get_by_label(labels[name]).check()
        _wait_shown(page, f"{name}:{dates['start']}:{dates['end']}")
        want = _range_numbers(result.sqlite, dates["start"], dates["end"])
        for key, value in want.items():
            assert _value(page, key) == value, (name, key)
        seen.add(want["messages"])
    assert len(seen | {lifetime}) > 1, "the ranges should not all show the same count"
    # A custom range, entered by hand.
    page.get_by_label("Custom").check()
    page.get_by_label("From", exact=True).fill(ranges["year"]["start"])
    end = (date.fromisoformat(ranges["year"]["start"]) + timedelta(days=100)).isoformat()
    page.get_by_label("to", exact=True).fill(end)
    page.get_by_role("button", name="Apply").click()
    _wait_shown(page, f"custom:{ranges['year']['start']}:{end}")
    want = _range_numbers(result.sqlite, ranges["year"]["start"], end)
    for key, value in want.items():
        assert _value(page, key) == value, ("custom", key)


def test_drill_down_and_csv_export(
    live: Live, page_and_traffic: tuple[Page, Traffic], result: Result
) -> None:
    page, _traffic = page_and_traffic
    _open_file(page, live.base, result.sqlite)
    with sqlite3.connect(result.sqlite) as conn:
        channels = conn.execute(
            "SELECT c.channel_id, c.channel_name, SUM(a.occurence_count) AS n"
            " FROM guild_channels_data c JOIN activity a ON a.associated_channel_id = c.channel_id"
            " WHERE a.event_name = 'message_sent' GROUP BY c.channel_id ORDER BY n DESC"
        ).fetchall()
        top_dm = conn.execute(
            "SELECT channel_id, COALESCE(display_name, user_name), total_message_count"
            " FROM dm_channels_data ORDER BY total_message_count DESC LIMIT 1"
        ).fetchone()
        reactions = conn.execute(
            "SELECT IFNULL(SUM(occurence_count), 0) FROM activity"
            " WHERE event_name = 'add_reaction' AND associated_channel_id = ?",
            (top_dm[0],),
        ).fetchone()[0]
    # CSV of the channels list: every channel, ranked, with its count.
    lists = page.locator("#lists")
    with page.expect_download() as dl:
        lists.locator("button.csv[data-table=Channels]").click()
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
    assert rows[0] == ["Rank", "Name", "Detail", "Id", "Messages"]
    assert sorted((r[3], int(r[4])) for r in rows[1:]) == sorted((c[0], c[2]) for c in channels)
    assert [int(r[4]) for r in rows[1:]] == sorted((c[2] for c in channels), reverse=True)
    # Search narrows the list; paging moves through it.
    search = page.get_by_label("Search Channels")
    search.fill(channels[0][1])
    expect(lists.locator(".ranked").nth(2).locator(".entry-open").first).to_contain_text(
        channels[0][1]
    )
    search.fill("")
    # Drill into the top DM: its own numbers.
    page.locator("#lists .ranked").first.locator(".entry-open").first.click()
    expect(page.locator("#drill")).to_have_attribute("data-shown", _starts("dm:"))
    expect(page.locator("#drill-title")).to_contain_text(top_dm[1])
    shown = page.locator("#drill").get_attribute("data-shown") or ""
    channel_id = shown.split(":")[1]
    with sqlite3.connect(result.sqlite) as conn:
        want = conn.execute(
            "SELECT total_message_count FROM dm_channels_data WHERE channel_id = ?", (channel_id,)
        ).fetchone()[0]
    assert want == top_dm[2]
    assert _value(page, "drill-messages", "#drill-headline") == str(want)
    if channel_id == top_dm[0]:
        assert _value(page, "drill-reactions", "#drill-headline") == str(reactions)
    expect(page.locator("#drill")).to_be_focused()
    expect(page.locator("#drill figure")).to_have_count(3)  # timeline, hours, weekdays
    page.get_by_role("button", name="Back to the overview").click()
    expect(page.locator("#overview")).to_be_visible()


def test_saved_result_opens_from_the_fragment_and_a_dropped_file(
    live: Live, page_and_traffic: tuple[Page, Traffic], result: Result
) -> None:
    page, _traffic = page_and_traffic
    data = base64.b64encode(result.sqlite.read_bytes()).decode()
    page.goto(f"{live.base}/insights/dashboard")
    # Save as /insights does (the store contract), then open by URL fragment.
    page.evaluate(
        """async (b64) => {
            const { saveResult } = await import('/static/js/insights/store.js');
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            await saveResult({ id: 'r-1', label: 'My package', bytes: bytes.buffer });
        }""",
        data,
    )
    page.goto(f"{live.base}/insights/dashboard#r-1")
    _wait_shown(page, "lifetime:")
    total = _range_numbers(result.sqlite, *LIFETIME)["messages"]
    assert _value(page, "messages") == total
    expect(page.get_by_label("Saved on this device")).to_contain_text("My package")
    # Forget it: it is gone from this device.
    page.get_by_role("button", name="Forget on this device").click()
    expect(page.locator("#saved")).to_be_hidden()
    expect(page.locator("#dashboard")).to_be_hidden()
    page.goto(f"{live.base}/insights/dashboard#r-1")
    page.reload()
    expect(page.locator("#load-error")).to_contain_text("not saved on this device")
    # A dropped file.
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], 'dropped.sqlite'));
            document.getElementById('drop').dispatchEvent(
                new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        }""",
        data,
    )
    _wait_shown(page, "lifetime:")
    assert _value(page, "messages") == total
    # Not a database: a clear message, no dashboard.
    page.get_by_label("Or choose a result file (.sqlite) from this computer").set_input_files(
        files=[{"name": "x.sqlite", "mimeType": "application/octet-stream", "buffer": b"nope"}]
    )
    expect(page.locator("#load-error")).to_contain_text("not a result database")


def test_partial_package_says_what_is_missing(
    live: Live,
    page_and_traffic: tuple[Page, Traffic],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    page, _traffic = page_and_traffic
    partial = _analyse(tmp_path_factory.mktemp("partial"), "partial-no-activity", 2)
    _open_file(page, live.base, partial.sqlite)
    expect(page.locator("#partial")).to_be_visible()
    expect(page.locator("#partial")).to_contain_text("no activity section")


def test_phone_width_has_no_horizontal_scroll(
    live: Live, context_factory: ContextFactory, result: Result
) -> None:
    page = context_factory(viewport={"width": 360, "height": 740}).new_page()
    _open_file(page, live.base, result.sqlite)
    page.wait_for_selector("#time-body .uplot")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_hours_and_weekdays_follow_the_viewers_time_zone(
    live: Live, context_factory: ContextFactory, result: Result
) -> None:
    zone = "America/New_York"  # daylight saving time: the offset changes twice a year
    page = context_factory(accept_downloads=True, locale="en-US", timezone_id=zone).new_page()
    _open_file(page, live.base, result.sqlite)
    expect(page.locator("#tz-note")).to_contain_text(zone)
    by_hour = [0] * 24
    by_weekday = [0] * 7  # Monday first, as the page lists them
    with sqlite3.connect(result.sqlite) as conn:
        for day, hour, n in conn.execute(
            "SELECT day, hour, SUM(occurence_count) FROM activity"
            " WHERE event_name = 'message_sent' GROUP BY day, hour"
        ):
            utc = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=hour)
            local = utc.astimezone(ZoneInfo(zone))
            by_hour[local.hour] += n
            by_weekday[local.weekday()] += n

    def table(title: str) -> list[int]:
        with page.expect_download() as dl:
            page.locator(f"#time-body button.csv[data-table='{title}']").click()
        rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
        return [int(r[1]) for r in rows[1:]]

    assert table("Messages by hour of day") == by_hour
    assert table("Messages by day of week") == by_weekday
    # Pointing at the busiest hour's bar shows its count in a tooltip.
    plot = page.locator("#time-body figure").nth(1).locator(".u-over")
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    assert box is not None
    busiest = by_hour.index(max(by_hour))
    page.mouse.move(box["x"] + box["width"] * (busiest + 0.5) / 24, box["y"] + box["height"] - 2)
    tip = page.locator("#time-body figure").nth(1).locator(".chart-tip")
    expect(tip).to_have_text(f"{busiest:02d}:00: {max(by_hour):,} messages")
