"""The guide feature: /guide (the study's purpose, practice, stages and framework notes)."""

from bot.exts.guide._cog import setup

__all__ = ["setup"]
