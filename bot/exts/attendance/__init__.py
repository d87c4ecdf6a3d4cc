"""The attendance feature: the check-in button, /checkin, /attendance, roster claims, admin corrections."""

from bot.exts.attendance._cog import setup

__all__ = ["setup"]
