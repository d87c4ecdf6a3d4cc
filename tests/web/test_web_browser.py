"""The study page as a person sees it: a real headless Chromium at desktop and phone widths.

Screenshots go to artefacts/web-screenshots/ (kept by CI as artefacts; ignored by git).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.conftest import ADMIN, GUILD_ID
from tests.web.browser import SCREENSHOTS, chromium, require_axe, require_browser
from tests.web.conftest import Served

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}


def watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def cancel_week_2(served: Served) -> None:
    await served.runtime.services.sessions.cancel(
        guild_id=GUILD_ID, actor=ADMIN, day=date(2026, 12, 10), reason="연말 휴식"
    )


async def test_reader_sees_next_session_topic_and_cancelled_week_at_desktop_and_phone_width(served: Served) -> None:
    require_browser()
    await cancel_week_2(served)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with chromium() as browser:
        for name, viewport in WIDTHS.items():
            context = await browser.new_context(viewport=viewport, locale="ko-KR", timezone_id="Asia/Seoul")
            page = await context.new_page()
            errors = watch_errors(page)
            response = await page.goto(served.page)
            assert response is not None and response.status == 200
            await page.screenshot(path=str(SCREENSHOTS / f"page-{name}.png"), full_page=True)
            await page.screenshot(path=str(SCREENSHOTS / f"page-{name}-first-screen.png"))
            await page.locator("#schedule").screenshot(path=str(SCREENSHOTS / f"page-{name}-schedule.png"))

            assert await page.locator("html").get_attribute("lang") == "ko"
            upcoming = page.locator("#next")
            assert "1주차 · 파이토치(PyTorch) 기본 익히기" in await upcoming.inner_text()
            assert "2026-12-03 (목) 09:00–10:00" in await upcoming.inner_text()
            cancelled = page.locator("#schedule li.s-cancelled")
            assert await cancelled.count() == 1 and await cancelled.is_visible()
            text = await cancelled.inner_text()
            assert "2026-12-10" in text and "취소" in text and "연말 휴식" in text
            # Links present, visible and clickable (trial: checks actionability without leaving the page).
            gather = page.get_by_role("link", name="Gather Town")
            assert await gather.get_attribute("href") == "https://app.gather.town/"
            await gather.click(trial=True)
            quickstart = page.locator("#next a", has_text="빠른 시작(Quickstart)")
            await quickstart.click(trial=True)
            subscribe = page.get_by_role("link", name="캘린더에 구독하기")
            assert (await subscribe.get_attribute("href") or "").startswith("webcal://")
            # No horizontal scrolling.
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
            # A real click on the language switch.
            await page.get_by_role("link", name="English").click()
            await page.wait_for_load_state()
            assert await page.locator("html").get_attribute("lang") == "en"
            assert "Week 1 · Learn the Basics" in await page.locator("#next").inner_text()
            await page.screenshot(path=str(SCREENSHOTS / f"page-{name}-en.png"), full_page=True)
            assert errors == [], f"{name}: console errors {errors}"
            await context.close()


async def test_readers_own_time_zone_with_and_without_javascript(served: Served) -> None:
    require_browser()
    async with chromium() as browser:
        context = await browser.new_context(timezone_id="America/New_York", locale="en-US")
        page = await context.new_page()
        errors = watch_errors(page)
        await page.goto(served.page)
        local = page.locator("#next span.local")
        assert "(America/New_York)" in await local.inner_text()
        assert "19:00" in await local.inner_text()
        assert errors == []
        await context.close()

        context = await browser.new_context(java_script_enabled=False, viewport=WIDTHS["phone"], locale="ko-KR")
        page = await context.new_page()
        await page.goto(served.page)
        assert "1주차 · 파이토치(PyTorch) 기본 익히기" in await page.locator("#next").inner_text()
        assert await page.locator("#next span.local").inner_text() == ""
        await page.select_option("#tz", "Europe/London")
        await page.get_by_role("button", name="보기").click()
        await page.wait_for_load_state()
        assert "내 시간: 2026-12-03 (목) 00:00–01:00 (Europe/London)" in await page.locator("#next").inner_text()
        await page.screenshot(path=str(SCREENSHOTS / "page-phone-nojs.png"), full_page=True)
        await context.close()


async def test_accessibility_audit_has_no_serious_or_critical_findings(served: Served) -> None:
    require_browser()
    axe = require_axe()
    await cancel_week_2(served)
    async with chromium() as browser:
        for name, viewport in WIDTHS.items():
            # axe is injected by the test, so this context alone lets the page's CSP admit it.
            context = await browser.new_context(viewport=viewport, bypass_csp=True)
            page = await context.new_page()
            for url in (served.page, served.page + "?lang=en", served.page.replace("/s/", "/s/missing")):
                await page.goto(url)
                await page.add_script_tag(path=str(axe))
                result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
                bad = [
                    f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
                    for v in result["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
                assert bad == [], f"{name} {url}: {bad}"
            await context.close()
