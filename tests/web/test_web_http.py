"""The web page and feed over real HTTP, served from the bot's snapshots (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import aiohttp
from multidict import CIMultiDict
from sqlalchemy import update

from bot.db import models as db
from bot.runtime import Runtime
from bot.web.extras import AttendanceGrid, AttendanceRow, LogEntry, LogWeek, PageExtras, no_extras
from tests.conftest import ADMIN, GUILD_ID
from tests.web.conftest import Served, serve
from tests.web.ical import parse_feed

WEEK1_SEOUL = "2026-12-03 (목) 09:00–10:00"


async def get(served: Served, url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with served.http.get(url, headers=headers, allow_redirects=False) as response:
        return response.status, response.headers.copy(), await response.read()


async def test_page_shows_next_session_topic_place_and_materials_in_korean(served: Served) -> None:
    status, headers, body = await get(served, served.page)
    html = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '<html lang="ko">' in html
    assert "1주차 · 파이토치(PyTorch) 기본 익히기" in html
    assert WEEK1_SEOUL in html and "Asia/Seoul" in html
    assert 'datetime="2026-12-03T00:00:00Z"' in html  # for the reader's own time
    assert '<a href="https://app.gather.town/" rel="noopener noreferrer">Gather Town</a>' in html
    assert "https://tutorials.pytorch.kr/beginner/basics/quickstart_tutorial.html" in html
    assert "차수연" in html and "스터디장" in html
    assert html.count('class="s-') == 9  # every session of the schedule


async def test_english_by_accept_language_or_query(served: Served) -> None:
    _, headers, body = await get(served, served.page, **{"Accept-Language": "en-US,en;q=0.9,ko;q=0.5"})
    assert '<html lang="en">' in body.decode() and "Week 1 · Learn the Basics" in body.decode()
    assert headers["Content-Language"] == "en" and "Accept-Language" in headers["Vary"]
    _, _, body = await get(served, served.page + "?lang=en", **{"Accept-Language": "ko"})
    assert '<html lang="en">' in body.decode() and "Thu 2026-12-03 09:00–10:00" in body.decode()
    _, _, body = await get(served, served.page + "?lang=xx", **{"Accept-Language": "fr, ko;q=0.1"})
    assert '<html lang="ko">' in body.decode()


async def test_reader_time_zone_without_javascript(served: Served) -> None:
    _, _, body = await get(served, served.page + "?tz=America/New_York")
    html = body.decode()
    assert "내 시간: 2026-12-02 (수) 19:00–20:00 (America/New_York)" in html
    _, _, body = await get(served, served.page + "?tz=Not/AZone")
    assert "내 시간:" not in body.decode().split('<span class="local"')[1].split("</span>")[0]


async def test_security_headers_on_pages_feeds_and_errors(served: Served) -> None:
    for url in (served.page, served.feed, served.page.replace("/s/", "/s/x"), served.page + "nope"):
        _, headers, _ = await get(served, url)
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "aiohttp" not in headers.get("Server", "")
    _, _, body = await get(served, served.page)
    assert "<script>" not in body.decode() and " on" + "click=" not in body.decode()


async def test_unknown_rotated_and_switched_off_addresses_all_look_the_same(served: Served) -> None:
    old = served.page
    unknown_status, _, unknown_body = await get(served, old.replace(old.split("/")[-2], "A" * 24))
    await served.web.service.rotate(guild_id=GUILD_ID, actor=ADMIN)
    new = served.page
    assert new != old
    rotated_status, _, rotated_body = await get(served, old)
    assert (await get(served, new))[0] == 200
    await served.web.service.set_enabled(guild_id=GUILD_ID, actor=ADMIN, enabled=False)
    assert served.web.live_links(served.snap_id) is None
    off_status, _, off_body = await get(served, new)
    off_feed_status, _, off_feed_body = await get(served, new + "calendar.ics")
    garbage_status, _, garbage_body = await get(served, served.web.server.base_url + "/s/%3Cx%3E/")  # type: ignore[union-attr]
    assert unknown_status == rotated_status == off_status == off_feed_status == garbage_status == 404
    assert unknown_body == rotated_body == off_body == off_feed_body == garbage_body
    assert "죽되밥되" not in unknown_body.decode()
    # Turned on again, the address is the last one issued.
    await served.web.service.set_enabled(guild_id=GUILD_ID, actor=ADMIN, enabled=True)
    assert served.page == new and (await get(served, new))[0] == 200


async def test_every_user_text_is_escaped(served: Served) -> None:
    evil = '<img src=x onerror="alert(1)">'
    async with served.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(db.Member).where(db.Member.name == "강동연").values(name=evil))
        await session.execute(update(db.CurriculumWeek).where(db.CurriculumWeek.number == 1).values(title=evil))
    await served.runtime.directory.changed(served.snap_id)
    _, _, body = await get(served, served.page)
    html = body.decode()
    assert evil not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


async def test_nothing_can_be_changed_from_the_web_and_requests_are_bounded(served: Served) -> None:
    async with served.http.post(served.page, data=b"x") as response:
        assert response.status == 405
    async with served.http.get(served.page, headers={"X-Long": "a" * 10_000}) as response:
        assert response.status in (400, 431)
    assert (await get(served, served.page))[0] == 200


async def test_a_slow_client_does_not_stall_anyone(served: Served) -> None:
    server = served.web.server
    assert server is not None and server.port is not None
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET " + served.page.split(str(server.port), 1)[1].encode() + b" HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()  # ... and never finishes its headers
    started = asyncio.get_running_loop().time()
    status, _, _ = await get(served, served.page)
    assert status == 200 and asyncio.get_running_loop().time() - started < 2
    writer.close()


async def test_feed_is_text_calendar_with_validators_and_304(served: Served) -> None:
    status, headers, body = await get(served, served.feed)
    assert status == 200 and headers["Content-Type"] == "text/calendar; charset=utf-8"
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    events = parse_feed(body)
    assert len(events) == 9 and events[0].summary == "1주차 · 파이토치(PyTorch) 기본 익히기"
    assert events[0].start == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    again = await get(served, served.feed, **{"If-None-Match": etag})
    assert again[0] == 304 and again[2] == b"" and again[1]["ETag"] == etag
    assert (await get(served, served.feed, **{"If-Modified-Since": modified}))[0] == 304
    assert (await get(served, served.feed, **{"If-None-Match": '"other"'}))[0] == 200
    # The webcal:// link names the same feed.
    links = served.web.live_links(served.snap_id)
    assert links is not None and links.webcal == "webcal://" + served.feed.split("://", 1)[1]


async def test_cancel_changes_the_etag_and_the_events_sequence(served: Served) -> None:
    _, headers, body = await get(served, served.feed)
    before = {e.uid: e for e in parse_feed(body)}
    served.clock.set(datetime(2026, 12, 1, 5, 0, tzinfo=UTC))
    await served.runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 10), reason="x")
    status, after_headers, after_body = await get(served, served.feed, **{"If-None-Match": headers["ETag"]})
    assert status == 200 and after_headers["ETag"] != headers["ETag"]
    after = {e.uid: e for e in parse_feed(after_body)}
    cancelled = next(e for e in after.values() if e.start.date() == date(2026, 12, 10) or "20261210" in e.uid)
    assert cancelled.status == "CANCELLED"
    assert cancelled.sequence > before[cancelled.uid].sequence


async def test_public_index_lists_only_public_pages(served: Served) -> None:
    server = served.web.server
    assert server is not None
    _, _, body = await get(served, server.base_url + "/")
    assert "죽되밥되" not in body.decode() and served.page not in body.decode()
    await served.web.service.set_public(guild_id=GUILD_ID, actor=ADMIN, public=True)
    _, _headers, body = await get(served, server.base_url + "/")
    assert "죽되밥되" in body.decode() and served.page in body.decode()
    _, page_headers, page_body = await get(served, served.page)
    assert "X-Robots-Tag" not in page_headers and 'name="robots"' not in page_body.decode()


async def test_hidden_links_stay_off_the_page(served: Served) -> None:
    roster = served.runtime.services.roster
    await roster.add(
        guild_id=GUILD_ID,
        actor=ADMIN,
        name="홍길동",
        user_id=555,
        github="https://github.com/hong",
        blog="https://hong.dev",
    )
    _, _, body = await get(served, served.page)
    assert "https://github.com/hong" in body.decode() and "https://hong.dev" in body.decode()
    me = type(ADMIN)(555, "hong#0001")
    assert await served.web.service.set_links_hidden(guild_id=GUILD_ID, actor=me, hidden=True) == "홍길동"
    _, _, body = await get(served, served.page)
    assert "홍길동" in body.decode() and "https://github.com/hong" not in body.decode()
    assert "https://hong.dev" not in body.decode()
    await served.web.service.set_links_hidden(guild_id=GUILD_ID, actor=me, hidden=False)
    _, _, body = await get(served, served.page)
    assert "https://github.com/hong" in body.decode()


async def test_optional_sections_render_only_with_their_data(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    snap = runtime.directory.by_guild(GUILD_ID)
    assert snap is not None
    member = snap.members[0]
    extras = PageExtras(
        attendance=AttendanceGrid(
            weeks=(1, 2), rows=(AttendanceRow(member.id, member.name, ("present", "late"), "100%"),)
        ),
        logs=(LogWeek(1, (LogEntry(member.id, member.name, "https://blog.example/w1", "1주차 정리"),)),),
        progress_png=b"\x89PNG\r\n\x1a\n",
        version=1,
    )
    plain = await serve(runtime, clock, extras=no_extras)
    rich = await serve(runtime, clock, extras=lambda s, lang: extras)
    try:
        await rich.service.set_enabled(guild_id=GUILD_ID, actor=ADMIN, enabled=True)
        async with aiohttp.ClientSession() as http:
            plain_links, rich_links = plain.live_links(snap.id), rich.live_links(snap.id)
            assert plain_links is not None and rich_links is not None
            async with http.get(plain_links.page) as response:
                html = await response.text()
            assert 'id="attendance"' not in html and 'id="logs"' not in html and 'id="progress"' not in html
            async with http.get(plain_links.page + "progress.png") as response:
                assert response.status == 404
            async with http.get(rich_links.page) as response:
                html = await response.text()
            assert 'id="attendance"' in html and 'class="a-late"' in html and "100%" in html
            assert "https://blog.example/w1" in html and "1주차 정리" in html
            async with http.get(rich_links.page + "progress.png") as response:
                assert response.status == 200 and response.headers["Content-Type"] == "image/png"
    finally:
        await plain.stop()
        await rich.stop()
