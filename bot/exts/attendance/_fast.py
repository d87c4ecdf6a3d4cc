"""The check-in button's fast path: a press answered from the gateway payload itself.

When a session starts, the whole study presses one button within a second or two. discord.py's ordinary path
for a press builds an `Interaction` (parsing the whole message the button sits on, embeds and components),
routes it through the view store to the dynamic item, and answers with `with_response=1`, reading back and
parsing the message Discord returns. Measured in bench/practice.py, that was as much event-loop time per press
as a whole `/week`, and 200 presses in one second made every other command wait behind them.

This path reads the few fields a check-in needs, records it through the same `AttendanceService.check_in`
(the same rules, the same group commit), and answers with one callback request whose body it does not read.
Only a press that checks in (or finds its check-in already there) is answered here. Anything else — another
study's post, a member who is not linked (who gets the claim menu), a refusal (outside the window, a cancelled
session), an error — continues down discord.py's ordinary path unchanged, which answers as it always has; none
of those wrote anything, so that path finds the same answer again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import discord
from discord.http import Route as WebhookRoute
from discord.webhook.async_ import async_context

from bot.core.attendance import CheckinSource
from bot.delivery.practice_posts import CHECKIN_TEMPLATE
from bot.errors import UserError
from bot.foreground import turn
from bot.i18n import language_for
from bot.render.attendance import render_checkin_done
from bot.services.attendance import NotLinked

if TYPE_CHECKING:
    from bot.app import StudyBot

log = logging.getLogger(__name__)

COMPONENT = 3  # interaction type: a message component
CHANNEL_MESSAGE = 4  # callback type: answer with a message
EPHEMERAL = 1 << 6
_CHECKIN = re.compile(CHECKIN_TEMPLATE)


class FastCheckin:
    """Wraps discord.py's INTERACTION_CREATE parser; `ordinary(data)` is the wrapped one."""

    def __init__(self, bot: StudyBot, ordinary: Callable[[Any], None]) -> None:
        self.bot = bot
        self.ordinary = ordinary
        self._tasks: set[asyncio.Task[None]] = set()
        self.answered = 0  # presses answered here (tests and benchmarks read it)

    def __call__(self, data: Any) -> None:
        found = self._press(data)
        if found is None:
            self.ordinary(data)
            return
        task = asyncio.get_running_loop().create_task(self._handle(data, *found), name="checkin-press")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _press(self, data: Any) -> tuple[int, int, str, date] | None:
        """(guild, user, study public id, session date) of a check-in press, else None."""
        try:
            if data.get("type") != COMPONENT or "guild_id" not in data:
                return None
            match = _CHECKIN.fullmatch(data["data"]["custom_id"])
            if match is None:
                return None
            return (
                int(data["guild_id"]),
                int(data["member"]["user"]["id"]),
                match["study"],
                date.fromisoformat(match["day"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    async def _handle(self, data: Any, guild_id: int, user_id: int, study: str, day: date) -> None:
        await turn()  # a command being answered goes first (bot.foreground)
        snap = self.bot.directory.by_guild(guild_id)
        if snap is None or snap.public_id != study:
            self.ordinary(data)
            return
        try:
            result = await self.bot.services.attendance.check_in(
                guild_id=guild_id, user_id=user_id, original_date=day, source=CheckinSource.BUTTON
            )
        except (NotLinked, UserError):
            self.ordinary(data)  # the claim menu or the refusal, the ordinary way (nothing was written)
            return
        except Exception:
            log.exception(
                "check-in press of user %s in server %s failed; answering the ordinary way", user_id, guild_id
            )
            self.ordinary(data)
            return
        language = language_for(data.get("locale"), snap.locale)
        reply = render_checkin_done(
            name=result.member,
            week=result.session.week or 0,
            status=result.status,
            already=result.already,
            lang=language,
        )
        payload = {
            "type": CHANNEL_MESSAGE,
            "data": {"content": reply.content, "flags": EPHEMERAL, "allowed_mentions": {"parse": []}},
        }
        # discord.py's own webhook adapter (as `interaction.response` uses, with a lock per interaction), on the
        # bot's HTTP session, without `with_response`: nothing is read back.
        route = WebhookRoute(
            "POST",
            "/interactions/{webhook_id}/{webhook_token}/callback",
            webhook_id=data["id"],
            webhook_token=data["token"],
        )
        session = self.bot.http._HTTPClient__session  # type: ignore[attr-defined]  # as discord.Interaction does
        await turn()
        try:
            await async_context.get().request(route, session=session, payload=payload)
        except (discord.HTTPException, OSError, TimeoutError) as exc:
            # Recorded all the same; the member sees "interaction failed" and can press again ("already").
            log.warning("could not answer check-in press %s: %s", data.get("id"), exc)
            return
        self.answered += 1


def install(bot: StudyBot) -> FastCheckin:
    """Put the fast path in front of discord.py's INTERACTION_CREATE parser (before connecting)."""
    parsers: dict[str, Callable[[Any], None]] = bot._connection.parsers
    current = parsers["INTERACTION_CREATE"]
    if type(current).__name__ == FastCheckin.__name__:  # installed before (maybe by an earlier load of this module)
        current = current.ordinary  # type: ignore[attr-defined]
    fast = FastCheckin(bot, current)
    parsers["INTERACTION_CREATE"] = fast
    return fast
