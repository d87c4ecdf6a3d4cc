"""discord.py Translator: localized command, option and choice names/descriptions from the catalogues.

Keys are derived from where a string sits, so commands declare only their English defaults:
`cmd.<qualified name, dots>.name|description`, `cmd.<command>.opt.<option>.name|description`,
`choice.<value>`. English locales use the defaults, which are the `en` catalogue's text.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n.catalogue import load


def key_for(string: app_commands.locale_str, context: app_commands.TranslationContextTypes) -> str | None:
    explicit = string.extras.get("key")
    if isinstance(explicit, str):
        return explicit
    location = context.location
    data: Any = context.data  # a Command, Group, Parameter or Choice depending on `location`
    if location in (Where.command_name, Where.group_name):
        return f"cmd.{data.qualified_name.replace(' ', '.')}.name"
    if location in (Where.command_description, Where.group_description):
        return f"cmd.{data.qualified_name.replace(' ', '.')}.description"
    if location in (Where.parameter_name, Where.parameter_description):
        part = "name" if location is Where.parameter_name else "description"
        return f"cmd.{data.command.qualified_name.replace(' ', '.')}.opt.{data.name}.{part}"
    if location is Where.choice_name:
        return f"choice.{data.value}"
    return None


class CatalogueTranslator(app_commands.Translator):
    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is not discord.Locale.korean:
            return None
        key = key_for(string, context)
        return None if key is None else load("ko").get(key)
