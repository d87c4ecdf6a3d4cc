"""The schedule feature: /week, /next, /schedule."""

from bot.exts.week._cog import setup

__all__ = ["setup"]
