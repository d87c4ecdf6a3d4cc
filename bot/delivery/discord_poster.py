"""Discord side of the reminder runner: post a rendered Reply with a nonce, and look for one we posted.

Turns discord.py's exceptions into `PostError`s: permanent ones (no access, unknown channel, a request
Discord refuses) are not retried — blind retries of 4xx answers are what get a bot's IP banned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.delivery.runner import PostError
from bot.exts._glue import allowed_mentions_for, files_for, to_embed, view_for
from bot.render.embeds import Reply

if TYPE_CHECKING:
    from bot.app import StudyBot

TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, RuntimeError)  # RuntimeError: session closing


class DiscordPoster:
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    def held(self) -> Awaitable[object] | None:
        """While discord.py waits out a global 429 (its `_global_over` event is clear, for every request of the
        process), the wait's end; else None. The rate gate grants no slot meanwhile (`RateGate(held=…)`)."""
        over = getattr(self.bot.http, "_global_over", None)
        if not isinstance(over, asyncio.Event) or over.is_set():
            return None
        return over.wait()

    async def post(self, channel_id: int, reply: Reply, *, nonce: str) -> int:
        # Sending needs only the id: no channel lookup (which would be an extra, unpaced REST call).
        channel = self.bot.get_partial_messageable(channel_id)
        view = view_for(reply)
        try:
            message = await channel.send(
                content=reply.content or None,
                embeds=[to_embed(e) for e in reply.embeds],
                allowed_mentions=allowed_mentions_for(reply),
                nonce=nonce,
                files=files_for(reply),
                view=view or discord.utils.MISSING,
            )
        except discord.Forbidden as exc:
            raise PostError(f"missing permission to post in channel {channel_id} ({exc.text})", permanent=True) from exc
        except discord.NotFound as exc:
            raise PostError(f"channel {channel_id} not found", permanent=True) from exc
        except discord.HTTPException as exc:
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise PostError(f"Discord answered {exc.status}: {exc.text or exc}", permanent=permanent) from exc
        except TRANSIENT as exc:
            raise PostError(f"network error: {exc!r}", permanent=False) from exc
        return message.id

    async def find(self, channel_id: int, marker: str, *, after: datetime | None) -> int | None:
        """Our message containing `marker`: among everything posted since `after` (up to 500 messages), or
        among the latest 100 when no time is known."""
        channel = self.bot.get_partial_messageable(channel_id)
        me = self.bot.user
        since = after - timedelta(minutes=1) if after is not None else None
        try:
            async for message in channel.history(limit=500 if since else 100, after=since):
                if me is not None and message.author.id != me.id:
                    continue
                texts = [message.content] + [e.footer.text or "" for e in message.embeds]
                if any(marker in text for text in texts):
                    return message.id
        except discord.HTTPException as exc:
            raise PostError(f"could not read history: {exc}", permanent=exc.status in (403, 404)) from exc
        except TRANSIENT as exc:
            raise PostError(f"could not read history: {exc!r}", permanent=False) from exc
        return None
