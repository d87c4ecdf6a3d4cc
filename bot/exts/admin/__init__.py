"""The admin feature: /admin roster|curriculum|session|reminders …, settings, audit."""

from bot.exts.admin._cog import setup

__all__ = ["setup"]
