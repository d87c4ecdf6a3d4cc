"""The slash-command tree as Discord will receive it: the real StudyBot with every extension loaded.

Discord refuses a whole sync when one name, description or count is out of bounds, and a command without
Korean text shows English to a Korean study; so every command, group, option and choice is checked here,
on the translated payload the bot would send (nothing connects to Discord).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import EXTENSIONS
from bot.clock import FrozenClock
from bot.config import Settings
from bot.i18n.catalogue import load
from bot.i18n.translator import CatalogueTranslator
from bot.runtime import create_bot, open_runtime

NAME = re.compile(r"^[-_\w]{1,32}$")  # Discord's CHAT_INPUT name rule (\w is Unicode here, as in Discord's)
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
MANAGE_GUILD = str(1 << 5)
GUILD_CONTEXT = 0
MEMBER_COMMANDS = ("week", "materials", "schedule", "next", "roster", "calendar", "progress", "guide")
MEMBER_GROUPS = {"log": {"add", "remove", "board", "mine", "nudge"}}
ADMIN_SUBCOMMANDS = {
    "roster": {"add", "remove", "edit", "link"},
    "curriculum": {"set-topic", "add-material", "remove-material"},
    "session": {"cancel", "move", "restore"},
    "reminders": {"status", "pause", "resume", "preview"},
    "settings": None,
    "audit": None,
}


@dataclass(frozen=True)
class Node:
    """One command, group or option of the payload, with the catalogue key prefix its text comes from."""

    kind: str  # "command", "group" or "option"
    path: tuple[str, ...]  # e.g. ("admin", "roster", "add") or, for an option, its command's path + name
    payload: dict[str, Any]

    @property
    def key(self) -> str:
        if self.kind == "option":
            return "cmd." + ".".join(self.path[:-1]) + ".opt." + self.path[-1]
        return "cmd." + ".".join(self.path)

    @property
    def shown(self) -> str:
        return "/" + " ".join(self.path)


def walk(payload: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[Node]:
    path = (*path, payload["name"])
    children = payload.get("options", [])
    is_group = any(child.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for child in children)
    yield Node("group" if is_group else "command", path, payload)
    for child in children:
        if child.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
            yield from walk(child, path)
        else:
            yield Node("option", (*path, child["name"]), child)


def options_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return list(payload.get("options", []))


@dataclass(frozen=True)
class Tree:
    payloads: dict[str, dict[str, Any]]  # translated payload per top-level command, as the bot would sync it

    def nodes(self) -> list[Node]:
        return [node for payload in self.payloads.values() for node in walk(payload)]

    def find(self, *path: str) -> dict[str, Any]:
        payload = self.payloads[path[0]]
        for name in path[1:]:
            payload = next(o for o in options_of(payload) if o["name"] == name)
        return payload


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """Build the bot as `bot.runtime` does, load every extension with the catalogue translator, never log in."""
    folder: Path = tmp_path_factory.mktemp("meta")

    async def build() -> Tree:
        settings = Settings(token="", database_url=f"sqlite+aiosqlite:///{folder / 'meta.db'}")
        runtime = await open_runtime(settings, clock=FrozenClock(datetime(2026, 12, 1, tzinfo=UTC)))
        try:
            bot = create_bot(runtime)
            async with bot:  # sets up the client's internals without connecting; closes it on the way out
                translator = CatalogueTranslator()
                await bot.tree.set_translator(translator)
                for name in EXTENSIONS:
                    await bot.load_extension(name)
                commands = bot.tree.get_commands()
                names = [command.name for command in commands]
                assert len(names) == len(set(names)), f"top-level names clash: {names}"
                payloads = {c.name: await c.get_translated_payload(bot.tree, translator) for c in commands}
        finally:
            await runtime.close()
        return Tree(payloads)

    return asyncio.run(build())


# --------------------------------------------------------------------------------------------------
# Discord's rules for names, descriptions and counts


def test_every_extension_registers_its_commands(tree: Tree) -> None:
    assert set(tree.payloads) == {*MEMBER_COMMANDS, *MEMBER_GROUPS, "admin", "web", "privacy"}
    assert len(tree.payloads) <= 100


def test_names_match_discords_pattern_and_are_lowercase(tree: Tree) -> None:
    bad = [node.shown for node in tree.nodes() if not NAME.fullmatch(node.payload["name"])]
    upper = [node.shown for node in tree.nodes() if node.payload["name"] != node.payload["name"].lower()]

    assert bad == []
    assert upper == []


def test_descriptions_are_1_to_100_characters(tree: Tree) -> None:
    bad = {node.shown: len(node.payload["description"]) for node in tree.nodes()}

    assert {shown: n for shown, n in bad.items() if not 1 <= n <= 100} == {}


def test_each_level_has_at_most_25_options_and_unique_names(tree: Tree) -> None:
    for node in tree.nodes():
        children = options_of(node.payload)
        names = [child["name"] for child in children]
        assert len(children) <= 25, f"{node.shown} has {len(children)} options"
        assert len(names) == len(set(names)), f"{node.shown} repeats an option name: {names}"


def test_groups_nest_at_most_two_levels_and_never_mix_subcommands_with_options(tree: Tree) -> None:
    for node in tree.nodes():
        if node.kind != "group":
            continue
        kinds = {child["type"] for child in options_of(node.payload)}
        assert kinds <= {SUB_COMMAND, SUB_COMMAND_GROUP}, f"{node.shown} mixes subcommands and options"
        if len(node.path) > 1:
            assert kinds == {SUB_COMMAND}, f"{node.shown} nests a group inside a group"


def test_required_options_come_before_optional_ones(tree: Tree) -> None:
    for node in tree.nodes():
        if node.kind != "command":
            continue
        required = [bool(option.get("required")) for option in options_of(node.payload)]
        assert required == sorted(required, reverse=True), f"{node.shown}: {required}"


def test_choices_are_at_most_25_with_valid_names(tree: Tree) -> None:
    for node in tree.nodes():
        choices = node.payload.get("choices") or []
        assert len(choices) <= 25, f"{node.shown} has {len(choices)} choices"
        for choice in choices:
            assert 1 <= len(choice["name"]) <= 100
            assert 1 <= len(choice["name_localizations"]["ko"]) <= 100, f"{node.shown}: {choice}"
        assert not (choices and node.payload.get("autocomplete")), f"{node.shown} has choices and autocomplete"


# --------------------------------------------------------------------------------------------------
# Korean and English text


def test_every_command_group_and_option_has_korean_name_and_description(tree: Tree) -> None:
    missing = [
        node.shown
        for node in tree.nodes()
        if not (node.payload.get("name_localizations") or {}).get("ko")
        or not (node.payload.get("description_localizations") or {}).get("ko")
    ]

    assert missing == []


def test_korean_names_match_discords_pattern(tree: Tree) -> None:
    bad = {
        node.shown: node.payload["name_localizations"]["ko"]
        for node in tree.nodes()
        if not NAME.fullmatch(node.payload["name_localizations"]["ko"])
        or node.payload["name_localizations"]["ko"] != node.payload["name_localizations"]["ko"].lower()
    }

    assert bad == {}


def test_korean_descriptions_are_1_to_100_characters(tree: Tree) -> None:
    bad = {
        node.shown: len(node.payload["description_localizations"]["ko"])
        for node in tree.nodes()
        if not 1 <= len(node.payload["description_localizations"]["ko"]) <= 100
    }

    assert bad == {}


def test_korean_names_are_unique_among_siblings(tree: Tree) -> None:
    levels = [list(tree.payloads.values())] + [options_of(node.payload) for node in tree.nodes()]
    for siblings in levels:
        korean = [sibling["name_localizations"]["ko"] for sibling in siblings]
        assert len(korean) == len(set(korean)), f"Korean names clash: {korean}"


def test_english_defaults_are_the_en_catalogues_text(tree: Tree) -> None:
    en = load("en")
    wrong = {}
    for node in tree.nodes():
        for part in ("name", "description"):
            expected = en.get(f"{node.key}.{part}")
            if node.payload[part] != expected:
                wrong[f"{node.key}.{part}"] = (node.payload[part], expected)

    assert wrong == {}


def test_korean_text_is_the_ko_catalogues_text(tree: Tree) -> None:
    ko = load("ko")
    wrong = {}
    for node in tree.nodes():
        for part in ("name", "description"):
            shown = node.payload[f"{part}_localizations"]["ko"]
            if shown != ko.get(f"{node.key}.{part}"):
                wrong[f"{node.key}.{part}"] = shown

    assert wrong == {}


def test_choice_names_come_from_the_catalogues(tree: Tree) -> None:
    en, ko = load("en"), load("ko")
    for node in tree.nodes():
        for choice in node.payload.get("choices") or []:
            key = f"choice.{choice['value']}"
            assert choice["name"] == en[key], f"{node.shown}: {choice}"
            assert choice["name_localizations"]["ko"] == ko[key], f"{node.shown}: {choice}"


# --------------------------------------------------------------------------------------------------
# Who may use what


def test_admin_needs_manage_server_and_works_only_in_servers(tree: Tree) -> None:
    admin = tree.payloads["admin"]

    # discord.py serialises the permission bits as an int; Discord documents a string. Either means 1 << 5.
    assert str(admin["default_member_permissions"]) == MANAGE_GUILD
    assert admin["dm_permission"] is False
    assert admin["contexts"] == [GUILD_CONTEXT]


@pytest.mark.parametrize("name", MEMBER_COMMANDS)
def test_member_commands_are_open_to_every_member(tree: Tree, name: str) -> None:
    assert tree.payloads[name]["default_member_permissions"] is None


@pytest.mark.parametrize("name", sorted(MEMBER_GROUPS))
def test_member_groups_are_open_to_every_member_with_their_subcommands(tree: Tree, name: str) -> None:
    assert tree.payloads[name]["default_member_permissions"] is None
    assert {option["name"] for option in options_of(tree.payloads[name])} == MEMBER_GROUPS[name]


@pytest.mark.parametrize("name", MEMBER_COMMANDS)
def test_member_commands_are_not_nested(tree: Tree, name: str) -> None:
    assert all(option["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP) for option in options_of(tree.payloads[name]))


# --------------------------------------------------------------------------------------------------
# The commands the spec names


def test_week_takes_an_optional_number(tree: Tree) -> None:
    [number] = options_of(tree.payloads["week"])

    assert number["name"] == "number"
    assert number["type"] == 4  # INTEGER
    assert not number.get("required")


def test_materials_takes_an_optional_week(tree: Tree) -> None:
    [week] = options_of(tree.payloads["materials"])

    assert week["name"] == "week"
    assert week["type"] == 4  # INTEGER
    assert not week.get("required")


def test_admin_has_every_subcommand_of_the_spec(tree: Tree) -> None:
    admin = tree.payloads["admin"]
    found: dict[str, set[str] | None] = {}
    for child in options_of(admin):
        if child["type"] == SUB_COMMAND_GROUP:
            found[child["name"]] = {grandchild["name"] for grandchild in options_of(child)}
        else:
            assert child["type"] == SUB_COMMAND
            found[child["name"]] = None

    assert found == ADMIN_SUBCOMMANDS


def test_admin_audit_takes_a_bounded_count_and_a_page(tree: Tree) -> None:
    count, page = options_of(tree.find("admin", "audit"))

    assert (count["name"], count["min_value"], count["max_value"]) == ("count", 1, 25)
    assert (page["name"], page["min_value"]) == ("page", 1)
    assert not count.get("required") and not page.get("required")


def test_admin_settings_can_clear_both_roles(tree: Tree) -> None:
    options = {option["name"]: option for option in options_of(tree.find("admin", "settings"))}

    assert options["clear_role"]["type"] == options["clear_admin_role"]["type"] == 5  # BOOLEAN
