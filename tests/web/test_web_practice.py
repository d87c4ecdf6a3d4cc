"""The page's practice sections: attendance grid, study-log board, progress picture, stages and the guide —
kept current from Discord, checked over HTTP and in a real Chromium (phone width, JavaScript off, axe)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.clock import FrozenClock, ShiftedClock
from bot.core.attendance import AttendanceStatus
from bot.offline import OfflineBot, start_offline
from bot.runtime import Runtime
from bot.services.base import Actor
from bot.web.extras import AttendanceGrid, AttendanceRow, LogEntry, LogWeek, PageExtras
from tests.conftest import ADMIN, GUILD_ID
from tests.e2e.conftest import START
from tests.web.browser import SCREENSHOTS, chromium, require_axe, require_browser
from tests.web.conftest import Served, serve
from tests.web.test_web_commands import ask, fetch, page_url

WEEK1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # Thursday 09:00 KST
AFTER_WEEK_2 = datetime(2026, 12, 17, 2, 0, tzinfo=UTC)  # week 2 moved to 12-17 by the cancel of 12-10
PNG = b"\x89PNG\r\n\x1a\n"


async def get(served: Served, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with served.http.get(url, headers=headers) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()


async def wait_for_text(url: str, needle: str, *, within: float = 10.0) -> str:
    """Fetch the page until `needle` shows (the positive signal), failing after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        _, _, body = await fetch(url)
        html = body.decode()
        if needle in html:
            return html
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{needle!r} did not appear on the page within {within} s")
        await asyncio.sleep(0.05)


# --- through Discord -------------------------------------------------------------------------------------


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[OfflineBot]:
    clock = ShiftedClock()
    clock.set(START)
    offline = await start_offline(tmp_path, clock=clock, backoff_base=0.05, web_listen="127.0.0.1:0")
    try:
        yield offline
    finally:
        await offline.stop()


async def test_a_checkin_and_a_log_from_discord_show_on_the_page_within_seconds(running: OfflineBot) -> None:
    standin = running.standin
    world = standin.defaults
    assert world is not None
    url = page_url(await ask(standin, "web on"))
    name = running.runtime.directory.all()[0].members[0].name
    await ask(standin, "admin roster link", {"name": name, "user": world.member_user_id})
    html = (await fetch(url))[2].decode()
    assert 'id="attendance"' not in html  # no session's check-in has opened yet

    running.runtime.clock.set(WEEK1 - timedelta(minutes=5))  # type: ignore[attr-defined]
    checked = await ask(standin, "checkin", user="member", locale="en-US")
    assert "present" in checked.content
    html = await wait_for_text(url, 'class="a-present"')
    grid = html.split('id="attendance"')[1].split("</section>")[0]
    assert name in grid and "100%" in grid

    added = await ask(standin, "log add", {"link": "https://blog.example/week-1", "note": "1주차 정리"}, user="member")
    assert "https://blog.example/week-1" in added.content or added.embeds
    html = await wait_for_text(url, 'href="https://blog.example/week-1"')
    board = html.split('id="logs"')[1].split("</section>")[0]
    assert name in board and ">https://blog.example/week-1</a>" in board and "1주차 정리" in board


# --- over HTTP ------------------------------------------------------------------------------------------


async def mark(runtime: Runtime, name: str, week: int, status: AttendanceStatus) -> None:
    await runtime.services.attendance.set_status(guild_id=GUILD_ID, actor=ADMIN, name=name, week=week, status=status)


async def test_grid_marks_a_cancelled_week_and_counts_moved_sessions_at_their_new_time(served: Served) -> None:
    runtime = served.runtime
    await runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 10), reason="연말")
    served.clock.set(AFTER_WEEK_2)
    first, second = [m.name for m in runtime.directory.all()[0].members[:2]]
    await mark(runtime, first, 1, AttendanceStatus.PRESENT)
    await mark(runtime, first, 2, AttendanceStatus.LATE)
    await mark(runtime, second, 1, AttendanceStatus.EXCUSED)
    await served.web.practice.settled()
    _, _, body = await get(served, served.page)
    grid = body.decode().split('id="attendance"')[1].split("</section>")[0]
    header = grid.split("</thead>")[0]
    # Columns: week 1, the cancelled slot of 12-10 (marked), week 2 (held on 12-17).
    assert re.findall(r"<th scope=\"col\"[^>]*>([^<]*)</th>", header)[1:4] == ["1주차", "취소", "2주차"]
    assert 'th scope="col" class="a-cancelled"' in header
    rows = grid.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")
    first_row = next(r for r in rows if first in r)
    assert re.findall(r'<td class="a-([a-z]+)"', first_row) == ["present", "cancelled", "late"]
    assert "100%" in first_row  # late counts as attended; the cancelled slot counts for nothing
    second_row = next(r for r in rows if second in r)
    assert re.findall(r'<td class="a-([a-z]+)"', second_row) == ["excused", "cancelled", "absent"]
    assert "0%" in second_row  # excused is left out; week 2 ended with no record: absent
    assert "<tfoot>" in grid


async def test_hidden_members_links_are_off_the_page_logs_included(served: Served) -> None:
    runtime = served.runtime
    await runtime.services.roster.add(
        guild_id=GUILD_ID, actor=ADMIN, name="홍길동", user_id=555, github="https://github.com/hong"
    )
    me = Actor(555, "hong#0001")
    await runtime.services.logs.add(
        guild_id=GUILD_ID, user_id=555, actor=me, url="https://hong.dev/notes/w1", note="정리"
    )
    await served.web.practice.settled()
    html = (await get(served, served.page))[2].decode()
    assert "https://hong.dev/notes/w1" in html and "https://github.com/hong" in html
    await served.web.service.set_links_hidden(guild_id=GUILD_ID, actor=me, hidden=True)
    html = (await get(served, served.page))[2].decode()
    board = html.split('id="logs"')[1].split("</section>")[0]
    assert "홍길동" in board and "정리" in board  # still shown as having posted
    assert "hong.dev" not in html and "github.com/hong" not in html


async def test_progress_picture_is_a_png_with_etag_and_every_page_of_a_big_study(served: Served) -> None:
    html = (await get(served, served.page))[2].decode()
    assert 'src="progress.png?lang=ko"' in html and "진행 현황" in html
    status, headers, body = await get(served, served.page + "progress.png")
    assert status == 200 and headers["content-type"] == "image/png" and body.startswith(PNG)
    etag = headers["etag"]
    assert (await get(served, served.page + "progress.png", **{"If-None-Match": etag}))[0] == 304
    en = await get(served, served.page + "progress.png?lang=en")
    assert en[0] == 200 and en[2].startswith(PNG) and en[1]["etag"] != etag  # drawn in the reader's language
    assert (await get(served, served.page + "progress-2.png"))[0] == 404  # one page only
    # A study of 200 members is drawn on several pages: the page shows them all.
    runtime = served.runtime
    for number in range(200 - len(runtime.directory.all()[0].members)):
        await runtime.services.roster.add(guild_id=GUILD_ID, actor=ADMIN, name=f"참여자{number:03d}")
    html = (await get(served, served.page))[2].decode()
    count = html.count('class="progress"')
    assert count == 2 and 'src="progress-2.png?lang=ko"' in html  # 100 members a picture
    assert f'alt="죽되밥되 파이토치 스터디 진행 현황: 참여자별 주차별 출석과 스터디로그 (2/{count})"' in html
    status, headers, body = await get(served, served.page + f"progress-{count}.png")
    assert status == 200 and body.startswith(PNG)
    assert (await get(served, served.page + f"progress-{count + 1}.png"))[0] == 404
    old = served.page
    await served.web.service.rotate(guild_id=GUILD_ID, actor=ADMIN)
    assert (await get(served, old + "progress.png"))[0] == 404


async def test_guide_and_curriculum_stages_are_on_the_page(served: Served) -> None:
    snap = served.runtime.directory.all()[0]
    assert snap.guide is not None
    html = (await get(served, served.page))[2].decode()
    guide = html.split('id="guide"')[1].split("</section>")[0]
    assert "스터디 방식" in guide
    assert '<h3 class="stage">' in html.split('id="curriculum"')[1].split("</section>")[0]
    html = (await get(served, served.page + "?lang=en"))[2].decode()
    assert "How it works" in html.split('id="guide"')[1]


# --- in a real browser ----------------------------------------------------------------------------------


@pytest.fixture
async def target() -> AsyncIterator[str]:
    """A page on this machine for a log to link to (the browser has no other network)."""
    app = web.Application()

    async def notes(request: web.Request) -> web.Response:
        return web.Response(text="<title>notes</title>week 1 notes", content_type="text/html")

    app.router.add_get("/notes/week-1", notes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/notes/week-1"
    finally:
        await runner.cleanup()


async def practice_data(served: Served, link: str) -> None:
    runtime = served.runtime
    await runtime.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name="차수연", user_id=777)
    await runtime.services.logs.add(guild_id=GUILD_ID, user_id=777, actor=Actor(777, "cha"), url=link, note="1주차")
    served.clock.set(WEEK1 + timedelta(hours=2))
    for index, member in enumerate(runtime.directory.all()[0].members):
        status = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.EXCUSED, None)[index % 4]
        if status is not None:
            await mark(runtime, member.name, 1, status)
    await served.web.practice.settled()


async def test_log_link_is_clickable_and_goes_where_it_says_at_phone_width(served: Served, target: str) -> None:
    require_browser()
    await practice_data(served, target)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with chromium() as browser:
        for js in (True, False):
            context = await browser.new_context(
                viewport={"width": 375, "height": 812}, locale="ko-KR", java_script_enabled=js
            )
            page = await context.new_page()
            await page.goto(served.page)
            link = page.locator("#logs a", has_text=target)
            assert await link.count() == 1 and await link.is_visible()
            assert await link.inner_text() == target == await link.get_attribute("href")
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"the page is {overflow}px wider than the phone"
            await page.locator("#progress img").scroll_into_view_if_needed()
            if js:
                await page.wait_for_function("() => document.querySelector('#progress img').complete")
                assert await page.evaluate("document.querySelector('#progress img').naturalWidth") > 100
                await page.screenshot(path=str(SCREENSHOTS / "page-phone-practice.png"), full_page=True)
                await page.locator("#attendance").screenshot(path=str(SCREENSHOTS / "page-phone-attendance.png"))
            await link.click()
            await page.wait_for_load_state()
            assert page.url == target and "week 1 notes" in await page.content()
            await context.close()


def big_extras() -> PageExtras:
    weeks = tuple(range(1, 13))
    rows = tuple(
        AttendanceRow(
            1000 + n,
            f"아주긴이름을가진참여자{n:02d}",
            tuple(("present", "late", "excused", "absent", "")[(n + w) % 5] for w in weeks),
            f"{(n * 7) % 101}%",
        )
        for n in range(30)
    )
    long_url = "https://very-long-blog-host.example/" + "a-very-long-path-segment/" * 6
    logs = tuple(
        LogWeek(
            w, tuple(LogEntry(1000 + n, f"아주긴이름을가진참여자{n:02d}", long_url, "메모 " * 30) for n in range(3))
        )
        for w in weeks
    )
    return PageExtras(
        attendance=AttendanceGrid(weeks=weeks, rows=rows, week_rates=tuple("90%" for _ in weeks)),
        logs=logs,
        progress_png=PNG,
        version=1,
    )


async def test_a_30_member_12_week_grid_scrolls_inside_its_box_at_375px_and_axe_is_clean(
    runtime: Runtime, clock: FrozenClock
) -> None:
    require_browser()
    axe = require_axe()
    extras = big_extras()
    web_feature = await serve(runtime, clock, extras=lambda snap, lang: extras)
    try:
        await web_feature.service.set_enabled(guild_id=GUILD_ID, actor=ADMIN, enabled=True)
        snap = runtime.directory.all()[0]
        links = web_feature.live_links(snap.id)
        assert links is not None
        async with chromium() as browser:
            context = await browser.new_context(viewport={"width": 375, "height": 812}, bypass_csp=True)
            page = await context.new_page()
            await page.goto(links.page)
            assert await page.locator("#attendance tbody tr").count() == 30
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            wide = await page.evaluate(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
                ".slice(0, 8).map(e => e.tagName + '.' + e.className + ':' + e.getBoundingClientRect().width)"
            )
            assert overflow <= 0, f"the page is {overflow}px wider than the phone: {wide}"
            box = page.locator("#attendance .scroll")
            assert await box.evaluate("e => e.scrollWidth > e.clientWidth")  # the grid scrolls in its box
            await box.focus()  # ... which the keyboard reaches
            await page.keyboard.press("ArrowRight")
            await page.screenshot(path=str(SCREENSHOTS / "page-phone-grid-30x12.png"), full_page=True)
            await page.add_script_tag(path=str(axe))
            result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
            bad = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
            assert bad == []
            await context.close()
    finally:
        await web_feature.stop()


async def test_accessibility_of_the_real_practice_sections_in_both_languages(served: Served, target: str) -> None:
    require_browser()
    axe = require_axe()
    await served.runtime.services.sessions.cancel(guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 10), reason="x")
    await practice_data(served, target)
    async with chromium() as browser:
        for viewport in ({"width": 1280, "height": 900}, {"width": 375, "height": 812}):
            context = await browser.new_context(viewport=viewport, bypass_csp=True)
            page = await context.new_page()
            for url in (served.page, served.page + "?lang=en"):
                await page.goto(url)
                for section in ("attendance", "logs", "progress", "guide"):
                    assert await page.locator(f"#{section}").count() == 1, section
                await page.add_script_tag(path=str(axe))
                result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
                bad = [
                    f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
                    for v in result["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
                assert bad == [], f"{viewport} {url}: {bad}"
            await context.close()


async def test_page_without_javascript_shows_every_section(served: Served, target: str) -> None:
    require_browser()
    await practice_data(served, target)
    async with chromium() as browser:
        context = await browser.new_context(java_script_enabled=False, locale="en-US")
        page = await context.new_page()
        await page.goto(served.page + "?lang=en")
        assert "Attendance" in await page.locator("#attendance h2").inner_text()
        assert await page.locator("#attendance td.a-present").count() >= 1
        assert await page.locator("#progress img").get_attribute("alt")
        await context.close()


def test_picture_page_count_matches_the_drawing() -> None:
    from bot.render import progress
    from bot.web import practice

    assert (practice.MEMBERS_PER_IMAGE, practice.MAX_IMAGES) == (progress.MEMBERS_PER_IMAGE, progress.MAX_IMAGES)


async def test_a_rendered_page_is_kept_until_the_next_session_boundary(served: Served) -> None:
    server = served.web.server
    assert server is not None
    await served.web.practice.settled()
    await get(served, served.page)
    rendered = len(server._pages)
    served.clock.set(served.clock.now() + timedelta(hours=5))  # still before week 1's check-in opens
    await get(served, served.page)
    assert len(server._pages) == rendered  # served from the cache, not rendered again
    served.clock.set(WEEK1 + timedelta(minutes=30))  # week 1 is on now
    html = (await get(served, served.page))[2].decode()
    assert len(server._pages) == rendered + 1 and "지금 진행 중" in html
