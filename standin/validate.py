"""Discord's request validation as the stand-in enforces it: message/embed limits, mentions, commands, events."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .state import Guild, Json, Perm, Pings

USER_MENTION = re.compile(r"<@!?(\d{15,21})>")
ROLE_MENTION = re.compile(r"<@&(\d{15,21})>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_NONCE = 25
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELD_LIMITS = {"name": 256, "value": 1024}


class ApiError(Exception):
    """An error answer: HTTP status plus Discord's JSON error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: Json | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Json | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> Json:
        body: Json = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class FormErrors:
    """Collects Invalid Form Body (50035) errors in Discord's nested `{"a": {"0": {"_errors": [...]}}}` shape."""

    def __init__(self) -> None:
        self.errors: Json = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: Sequence[str | int], value: object, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length_between(self, path: Sequence[str | int], value: object, low: int, high: int) -> None:
        if not isinstance(value, str) or not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(400, 50035, "Invalid Form Body", errors=self.errors)


def check_message(body: Json, *, has_files: bool, edit: bool = False) -> None:
    """Content ≤ 2000, ≤ 10 embeds, per-field embed limits, 6000 total, nonce ≤ 25, not empty."""
    errors = FormErrors()
    content = body.get("content")
    errors.max_length(["content"], content, MAX_CONTENT)
    embeds = body.get("embeds") or []
    if not isinstance(embeds, list):
        errors.add(["embeds"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        embeds = []
    if len(embeds) > MAX_EMBEDS:
        errors.add(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for index, embed in enumerate(embeds):
        total += _check_embed(errors, index, embed)
    if total > MAX_EMBED_TOTAL:
        errors.add(["embeds"], "MESSAGE_EMBED_TOTAL_LENGTH", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}")
    nonce = body.get("nonce")
    if nonce is not None and len(str(nonce)) > MAX_NONCE:
        errors.add(["nonce"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_NONCE} or fewer in length.")
    check_allowed_mentions(errors, body.get("allowed_mentions"))
    errors.raise_if_any()
    if edit:
        return
    has_body = bool(content) or bool(embeds) or has_files or bool(body.get("components"))
    has_body = has_body or bool(body.get("sticker_ids")) or bool(body.get("poll"))
    if not has_body:
        raise ApiError(400, 50006, "Cannot send an empty message")


def _check_embed(errors: FormErrors, index: int, embed: Any) -> int:
    if not isinstance(embed, dict):
        errors.add(["embeds", index], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return 0
    total = 0
    for key, limit in EMBED_LIMITS.items():
        value = embed.get(key)
        errors.max_length(["embeds", index, key], value, limit)
        total += len(value) if isinstance(value, str) else 0
    fields = embed.get("fields") or []
    if len(fields) > 25:
        errors.add(["embeds", index, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for f_index, fld in enumerate(fields):
        for key, limit in FIELD_LIMITS.items():
            value = fld.get(key) if isinstance(fld, dict) else None
            if not value:
                errors.add(["embeds", index, "fields", f_index, key], "BASE_TYPE_REQUIRED", "This field is required")
                continue
            errors.max_length(["embeds", index, "fields", f_index, key], value, limit)
            total += len(value) if isinstance(value, str) else 0
    footer = embed.get("footer")
    if isinstance(footer, dict):
        errors.max_length(["embeds", index, "footer", "text"], footer.get("text"), 2048)
        total += len(footer.get("text") or "")
    author = embed.get("author")
    if isinstance(author, dict):
        errors.max_length(["embeds", index, "author", "name"], author.get("name"), 256)
        total += len(author.get("name") or "")
    return total


def check_allowed_mentions(errors: FormErrors, allowed: Any) -> None:
    if allowed is None:
        return
    if not isinstance(allowed, dict):
        errors.add(["allowed_mentions"], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    parse = allowed.get("parse") or []
    for kind in ("users", "roles"):
        ids = allowed.get(kind) or []
        if kind in parse and ids:
            errors.add(
                ["allowed_mentions"],
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )
        if len(ids) > 100:
            errors.add(["allowed_mentions", kind], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    for kind in parse:
        if kind not in ("users", "roles", "everyone"):
            errors.add(["allowed_mentions", "parse"], "BASE_TYPE_CHOICES", "Value must be one of {'users', ...}.")


def compute_pings(
    content: str,
    allowed: Json | None,
    *,
    guild: Guild | None,
    author_permissions: int,
    replied_user_id: int | None = None,
) -> Pings:
    """Who Discord notifies: mentions in the content, filtered by allowed_mentions and by permissions.

    No allowed_mentions → everything in the content is parsed. With allowed_mentions, a user/role is pinged only
    when it is in the content *and* allowed by `parse` or the explicit `users`/`roles` lists. A role ping also needs
    the role to be mentionable or the author to have Mention Everyone; @everyone/@here needs Mention Everyone.
    """
    if allowed is None:
        parse = {"users", "roles", "everyone"}
        allowed_users: set[int] = set()
        allowed_roles: set[int] = set()
        replied = True
    else:
        parse = set(allowed.get("parse") or [])
        allowed_users = {int(u) for u in allowed.get("users") or []}
        allowed_roles = {int(r) for r in allowed.get("roles") or []}
        replied = bool(allowed.get("replied_user", False))
    can_everyone = bool(author_permissions & Perm.MENTION_EVERYONE)
    users: set[int] = set()
    for match in USER_MENTION.finditer(content):
        uid = int(match.group(1))
        if guild is not None and uid not in guild.members:
            continue
        if "users" in parse or uid in allowed_users:
            users.add(uid)
    roles: set[int] = set()
    for match in ROLE_MENTION.finditer(content):
        rid = int(match.group(1))
        role = guild.roles.get(rid) if guild is not None else None
        if role is None or not ("roles" in parse or rid in allowed_roles):
            continue
        if role.mentionable or can_everyone:
            roles.add(rid)
    everyone = bool(EVERYONE_MENTION.search(content)) and "everyone" in parse and can_everyone
    if replied_user_id is not None and replied:
        users.add(replied_user_id)
    return Pings(users=frozenset(users), roles=frozenset(roles), everyone=everyone)


# -- application commands -------------------------------------------------------------------------------


def _valid_name(name: Any, *, chat_input: bool) -> bool:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return False
    if not chat_input:
        return True
    if name != name.lower():
        return False
    return all(ch.isalnum() or ch in "-_'" for ch in name)


def check_commands(commands: Any, *, limit: int = 100) -> list[Json]:
    """Validate a bulk-overwrite body like Discord: names, descriptions, option counts, choices, duplicates."""
    errors = FormErrors()
    if not isinstance(commands, list):
        raise ApiError(400, 50035, "Invalid Form Body", errors={"_errors": [{"code": "LIST_TYPE_CONVERT"}]})
    chat_inputs = sum(1 for c in commands if isinstance(c, dict) and c.get("type", 1) == 1)
    if chat_inputs > limit:
        raise ApiError(400, 30032, f"Maximum number of application commands reached ({limit})")
    seen: set[tuple[str, int]] = set()
    for index, cmd in enumerate(commands):
        if not isinstance(cmd, dict):
            errors.add([index], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        check_command(errors, [index], cmd)
        key = (str(cmd.get("name")), int(cmd.get("type", 1)))
        if key in seen:
            errors.add([index, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", "Command names must be unique")
        seen.add(key)
    errors.raise_if_any()
    return list(commands)


def check_command(errors: FormErrors, path: list[str | int], cmd: Json) -> None:
    chat_input = int(cmd.get("type", 1)) == 1
    if not _valid_name(cmd.get("name"), chat_input=chat_input):
        errors.add([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    for locale, value in (cmd.get("name_localizations") or {}).items():
        if not _valid_name(value, chat_input=chat_input):
            errors.add([*path, "name_localizations", locale], "APPLICATION_COMMAND_INVALID_NAME", "Invalid name")
    if chat_input:
        errors.length_between([*path, "description"], cmd.get("description"), 1, 100)
        for locale, value in (cmd.get("description_localizations") or {}).items():
            errors.length_between([*path, "description_localizations", locale], value, 1, 100)
    _check_options(errors, [*path, "options"], cmd.get("options") or [])


def _check_options(errors: FormErrors, path: list[str | int], options: list[Json]) -> None:
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    names: set[str] = set()
    for index, opt in enumerate(options):
        here = [*path, index]
        if not _valid_name(opt.get("name"), chat_input=True):
            errors.add([*here, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Option name is invalid")
        if opt.get("name") in names:
            errors.add([*here, "name"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Duplicate option name")
        names.add(str(opt.get("name")))
        errors.length_between([*here, "description"], opt.get("description"), 1, 100)
        for locale, value in (opt.get("name_localizations") or {}).items():
            if not _valid_name(value, chat_input=True):
                errors.add([*here, "name_localizations", locale], "APPLICATION_COMMAND_INVALID_NAME", "Invalid name")
        for locale, value in (opt.get("description_localizations") or {}).items():
            errors.length_between([*here, "description_localizations", locale], value, 1, 100)
        choices = opt.get("choices") or []
        if len(choices) > 25:
            errors.add([*here, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if opt.get("type") in (1, 2):
            _check_options(errors, [*here, "options"], opt.get("options") or [])
            continue
        if opt.get("required"):
            if seen_optional:
                code = "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"
                errors.add([*here, "required"], code, "Required options must be placed before non-required options")
        else:
            seen_optional = True


# -- scheduled events -----------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def check_scheduled_event(body: Json, *, existing: Json | None, now: datetime, channel_ids: Iterable[int]) -> None:
    """Name 1–100, description ≤ 1000, start in the future, EXTERNAL needs location 1–100 and an end time."""
    merged: Json = {**(existing or {}), **body}
    errors = FormErrors()
    if existing is None or "name" in body:
        errors.length_between(["name"], merged.get("name"), 1, 100)
    errors.max_length(["description"], merged.get("description"), 1000)
    if existing is None and merged.get("privacy_level") != 2:
        errors.add(["privacy_level"], "BASE_TYPE_CHOICES", "Value must be one of {2}.")
    start = parse_time(merged.get("scheduled_start_time"))
    end_raw = merged.get("scheduled_end_time")
    end = parse_time(end_raw)
    if start is None:
        errors.add(["scheduled_start_time"], "DATE_TYPE_CONVERT", "Could not interpret value as a date.")
    elif (existing is None or "scheduled_start_time" in body) and start <= now:
        code = "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST"
        errors.add(["scheduled_start_time"], code, "Cannot schedule event in the past.")
    if end_raw is not None and end is None:
        errors.add(["scheduled_end_time"], "DATE_TYPE_CONVERT", "Could not interpret value as a date.")
    if start is not None and end is not None and end <= start:
        errors.add(["scheduled_end_time"], "GUILD_SCHEDULED_EVENT_END_BEFORE_START", "End must be after start.")
    entity_type = merged.get("entity_type")
    if entity_type == 3:
        location = (merged.get("entity_metadata") or {}).get("location")
        errors.length_between(["entity_metadata", "location"], location, 1, 100)
        if end is None:
            errors.add(["scheduled_end_time"], "BASE_TYPE_REQUIRED", "This field is required")
        if merged.get("channel_id") is not None:
            errors.add(["channel_id"], "GUILD_SCHEDULED_EVENT_CHANNEL_INVALID", "Must be null for EXTERNAL events.")
    elif entity_type in (1, 2):
        channel = merged.get("channel_id")
        if channel is None or int(channel) not in set(channel_ids):
            errors.add(["channel_id"], "BASE_TYPE_REQUIRED", "A voice or stage channel is required.")
    else:
        errors.add(["entity_type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3}.")
    errors.raise_if_any()
