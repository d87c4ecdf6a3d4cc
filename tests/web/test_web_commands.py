"""/web, /privacy and /calendar through real discord.py and the stand-in, with the page served by the bot."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.clock import ShiftedClock
from bot.offline import OfflineBot, start_offline
from standin import MessageRecord, StandIn
from tests.e2e.conftest import START
from tests.web.ical import parse_feed

URL = re.compile(r"https?://\S+/s/[A-Za-z0-9_-]+/")


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[OfflineBot]:
    clock = ShiftedClock()
    clock.set(START)
    offline = await start_offline(tmp_path, clock=clock, backoff_base=0.05, web_listen="127.0.0.1:0")
    try:
        yield offline
    finally:
        await offline.stop()


async def ask(
    standin: StandIn, command: str, options: dict[str, Any] | None = None, *, user: str = "admin", locale: str = "ko"
) -> MessageRecord:
    world = standin.defaults
    assert world is not None
    user_id = {"member": world.member_user_id, "admin": world.admin_user_id}[user]
    handle = await standin.invoke(command, options or {}, user_id=user_id, locale=locale)
    reply = await handle.wait_reply(timeout=10)
    assert not handle.late and reply.pings.nobody
    return reply


async def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, await response.read()


def page_url(reply: MessageRecord) -> str:
    found = URL.search(reply.content)
    assert found, reply.content
    return found.group(0)


async def test_commands_are_registered_with_the_right_permissions(running: OfflineBot) -> None:
    payloads = {c["name"]: c for c in running.standin.commands()}
    assert str(payloads["web"]["default_member_permissions"]) == str(1 << 5)  # Manage Server
    assert {o["name"] for o in payloads["web"]["options"]} == {"status", "on", "off", "rotate", "public"}
    assert payloads["web"]["name_localizations"]["ko"] == "웹페이지"
    assert payloads["web"]["contexts"] == payloads["privacy"]["contexts"] == [0]  # servers only
    assert payloads["privacy"]["default_member_permissions"] is None


async def test_admin_turns_the_page_on_rotates_and_turns_it_off(running: OfflineBot) -> None:
    standin = running.standin
    member_try = await ask(standin, "web on", user="member")
    assert member_try.ephemeral and "⚠️" in member_try.content and not URL.search(member_try.content)

    on = await ask(standin, "web on")
    assert on.ephemeral and "webcal://" in on.content
    first = page_url(on)
    status, _, body = await fetch(first)
    assert status == 200 and "죽되밥되 파이토치 스터디" in body.decode()
    assert page_url(await ask(standin, "web status", locale="en-US")) == first

    rotated = await ask(standin, "web rotate")
    second = page_url(rotated)
    assert second != first
    assert (await fetch(first))[0] == 404 and (await fetch(second))[0] == 200

    public = await ask(standin, "web public", {"listed": True})
    index = second.split("/s/")[0] + "/"
    assert second in (await fetch(index))[2].decode() and index in public.content

    await ask(standin, "web off")
    assert (await fetch(second))[0] == 404
    assert second not in (await fetch(index))[2].decode()


async def test_calendar_offers_the_subscription_link_when_the_page_is_on(running: OfflineBot) -> None:
    standin = running.standin
    off = await ask(standin, "calendar", user="member")
    assert off.files and "webcal://" not in off.content
    await ask(standin, "web on")
    on = await ask(standin, "calendar", user="member", locale="en-US")
    assert on.files and "webcal://" in on.content and "/calendar.ics" in on.content


async def test_a_cancel_in_discord_changes_the_feeds_etag_and_sequence(running: OfflineBot) -> None:
    standin = running.standin
    feed = page_url(await ask(standin, "web on")) + "calendar.ics"
    status, headers, body = await fetch(feed)
    assert status == 200 and headers["content-type"].startswith("text/calendar")
    before = {e.uid: e for e in parse_feed(body)}
    running.runtime.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    await ask(standin, "admin session cancel", {"date": "2026-12-10"})
    status, after_headers, after_body = await fetch(feed, **{"If-None-Match": headers["etag"]})
    assert status == 200 and after_headers["etag"] != headers["etag"]
    after = parse_feed(after_body)
    cancelled = next(e for e in after if "20261210" in e.uid)
    assert cancelled.status == "CANCELLED" and cancelled.sequence > before[cancelled.uid].sequence
    assert (await fetch(feed, **{"If-None-Match": after_headers["etag"]}))[0] == 304
    assert date(2026, 12, 10).isoformat()  # the slot the leader cancelled


async def test_privacy_hides_a_linked_members_links(running: OfflineBot) -> None:
    standin = running.standin
    url = page_url(await ask(standin, "web on"))
    unlinked = await ask(standin, "privacy", {"hide_links": True}, user="member")
    assert "⚠️" in unlinked.content and "/관리 명단 연결" in unlinked.content
    await ask(standin, "admin roster edit", {"name": "강동연", "github": "https://github.com/kang"})
    await ask(standin, "admin roster link", {"name": "강동연", "user": standin.defaults.member_user_id})  # type: ignore[union-attr]
    assert "https://github.com/kang" in (await fetch(url))[2].decode()
    hidden = await ask(standin, "privacy", {"hide_links": True}, user="member")
    assert hidden.ephemeral and "강동연" in hidden.content
    assert "https://github.com/kang" not in (await fetch(url))[2].decode()
    shown = await ask(standin, "privacy", {"hide_links": False}, user="member", locale="en-US")
    assert "shown" in shown.content and "https://github.com/kang" in (await fetch(url))[2].decode()
