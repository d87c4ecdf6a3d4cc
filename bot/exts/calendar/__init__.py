"""The calendar feature: /calendar."""

from bot.exts.calendar._cog import setup

__all__ = ["setup"]
