"""Specification of the renderers (bot/render/*.py): snapshot + schedule + `now` → a Discord-ready Reply.

They are pure, so every case is built by hand: the shipped study (studies/pytorch-study.toml) for what
members see, and a pathological study for Discord's limits, which no curriculum may break.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.definition import MaterialDefinition, StudyDefinition, load_definition
from bot.core.model import Material, MaterialKind, Member, MemberRole, Place, SessionChange, StudySnapshot, Week
from bot.core.schedule import Session, build_schedule
from bot.core.validation import escape_markdown
from bot.db.models import AuditEntry, Delivery
from bot.delivery.messages import render_cancel_notice, render_reminder, render_status
from bot.delivery.plan import CANCEL_NOTICE, PlannedDelivery, kind_for_offset, plan_deliveries
from bot.exts._glue import allowed_mentions_for
from bot.render.admin import render_audit, render_done, render_settings
from bot.render.embeds import CONTENT_MAX, EmbedField, EmbedSpec, Reply, fit, join_lines
from bot.render.study import (
    render_materials,
    render_next,
    render_roster,
    render_schedule,
    render_week,
)

SHIPPED = Path(__file__).resolve().parents[2] / "studies" / "pytorch-study.toml"
GUILD_ID = 900000000000000001
CHANNEL_ID = 900000000000000002
ROLE_ID = 900000000000000003

# Thursday 2026-12-03 09:00 Asia/Seoul (UTC+9, no DST) is 00:00 UTC: the shipped study's first session.
WEEK_1 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
BEFORE_WEEK_1 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def thursday(week_offset: int) -> datetime:
    """The regular start of the shipped study's slot `week_offset` weeks after the first one."""
    return WEEK_1 + timedelta(weeks=week_offset)


def _material(item: MaterialDefinition, position: int) -> Material:
    return Material(title=item.title, url=item.url, kind=item.kind, title_en=item.title_en, position=position)


def snapshot_of(defn: StudyDefinition, **overrides: object) -> StudySnapshot:
    """The snapshot the directory would build after importing `defn` (ids in file order)."""
    snap = StudySnapshot(
        id=1,
        guild_id=GUILD_ID,
        name=defn.name,
        locale=defn.locale,
        recurrence=defn.recurrence,
        place=Place(defn.location_name, defn.location_url),
        reminder_channel_id=CHANNEL_ID,
        ping_role_id=ROLE_ID,
        admin_role_id=None,
        reminder_offsets=tuple(timedelta(minutes=m) for m in defn.reminder_offsets_minutes),
        paused=False,
        members=tuple(
            Member(
                name=m.name,
                role=m.role,
                discord_user_id=m.discord_user_id,
                github=m.github,
                blog=m.blog,
                id=index,
            )
            for index, m in enumerate(defn.members, start=1)
        ),
        weeks=tuple(
            Week(
                number=w.number,
                title=w.title,
                title_en=w.title_en,
                notes=w.notes,
                materials=tuple(_material(m, p) for p, m in enumerate(w.materials)),
            )
            for w in defn.weeks
        ),
        resources=tuple(_material(m, p) for p, m in enumerate(defn.resources)),
    )
    return dataclasses.replace(snap, **overrides)  # type: ignore[arg-type]


def schedule_of(snap: StudySnapshot) -> list[Session]:
    return build_schedule(snap.recurrence, snap.changes, snap.week_count)


@pytest.fixture(scope="module")
def shipped() -> StudyDefinition:
    return load_definition(SHIPPED)


@pytest.fixture(scope="module")
def snap(shipped: StudyDefinition) -> StudySnapshot:
    return snapshot_of(shipped)


def cancelled(day: date, reason: str = "") -> SessionChange:
    return SessionChange(original_date=day, cancelled=True, reason=reason)


# --------------------------------------------------------------------------------------------------
# Discord's limits, checked on every reply


def assert_within_limits(reply: Reply) -> None:
    """Everything Discord would refuse with a 400: per-part limits, 25 fields, and 6,000 per message."""
    assert len(reply.content) <= CONTENT_MAX, f"content is {len(reply.content)} characters"
    assert len(reply.embeds) <= 10
    message_total = 0
    for embed in reply.embeds:
        assert len(embed.title) <= 256, f"title is {len(embed.title)} characters"
        assert len(embed.description) <= 4096, f"description is {len(embed.description)} characters"
        assert len(embed.fields) <= 25, f"{len(embed.fields)} fields"
        for item in embed.fields:
            assert 1 <= len(item.name) <= 256, f"field name is {len(item.name)} characters"
            assert 1 <= len(item.value) <= 1024, f"field value is {len(item.value)} characters"
        assert len(embed.footer) <= 2048, f"footer is {len(embed.footer)} characters"
        total = len(embed.title) + len(embed.description) + len(embed.footer)
        total += sum(len(item.name) + len(item.value) for item in embed.fields)
        assert total <= 6000, f"embed total is {total} characters"
        assert embed.title or embed.description or embed.fields, "Discord refuses an empty embed"
        message_total += total
    assert message_total <= 6000, f"all embeds of one message total {message_total} characters"
    assert reply.content or reply.embeds or reply.file_bytes, "Discord refuses an empty message"


def all_text(reply: Reply) -> str:
    parts = [reply.content]
    for embed in reply.embeds:
        parts += [embed.title, embed.description, embed.footer]
        parts += [f"{item.name}\n{item.value}" for item in embed.fields]
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------------
# /week


def test_week_shows_this_weeks_number_topic_time_place_and_materials(snap: StudySnapshot) -> None:
    reply = render_week(snap, schedule_of(snap), BEFORE_WEEK_1, "ko")

    assert len(reply.embeds) == 1
    card = reply.embeds[0]
    assert card.title == "1주차 · 파이토치(PyTorch) 기본 익히기"
    assert f"<t:{unix(WEEK_1)}:F>" in card.description
    assert f"<t:{unix(WEEK_1)}:R>" in card.description
    assert "[Gather Town](https://app.gather.town/)" in card.description
    [materials] = card.fields
    urls = re.findall(r"\]\((https://[^)]+)\)", materials.value)
    assert urls == [m.url for m in snap.weeks[0].materials]
    assert materials.value.splitlines()[0].startswith("1. ")
    assert "9주" in card.footer
    assert_within_limits(reply)


def test_week_start_is_thursday_0900_seoul_that_is_midnight_utc(snap: StudySnapshot) -> None:
    reply = render_week(snap, schedule_of(snap), BEFORE_WEEK_1, "en")

    # 2026-12-03T00:00:00Z, computed by hand: 20,790 days after the epoch.
    assert f"<t:{20790 * 86400}:F>" in reply.embeds[0].description


def test_week_moves_on_once_the_session_has_ended(snap: StudySnapshot) -> None:
    just_after_week_1 = WEEK_1 + timedelta(hours=1, minutes=1)

    card = render_week(snap, schedule_of(snap), just_after_week_1, "ko").embeds[0]

    assert card.title.startswith("2주차 · ")
    assert f"<t:{unix(thursday(1))}:F>" in card.description


def test_week_during_the_session_says_it_is_happening_now(snap: StudySnapshot) -> None:
    card = render_week(snap, schedule_of(snap), WEEK_1 + timedelta(minutes=30), "en").embeds[0]

    assert card.title.startswith("Week 1 · ")
    assert "happening now" in card.description


def test_week_cancelled_this_week_says_cancelled_and_shows_the_next_session(snap: StudySnapshot) -> None:
    with_cancel = dataclasses.replace(snap, changes=(cancelled(date(2026, 12, 10), "송년회"),))
    tuesday_before = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)

    reply = render_week(with_cancel, schedule_of(with_cancel), tuesday_before, "ko")

    notice, card = reply.embeds
    assert "취소" in notice.title
    assert f"<t:{unix(thursday(1))}:D>" in notice.description
    assert "송년회" in notice.description
    assert "2주차" in notice.description
    assert f"<t:{unix(thursday(2))}:F>" in notice.description
    assert card.title == "2주차 · 모두를 위한 딥러닝 시즌2 - PART 1"
    assert f"<t:{unix(thursday(2))}:F>" in card.description
    assert_within_limits(reply)


def test_week_past_the_end_says_the_curriculum_is_over(snap: StudySnapshot) -> None:
    reply = render_week(snap, schedule_of(snap), datetime(2027, 6, 1, tzinfo=UTC), "ko")

    [embed] = reply.embeds
    assert "커리큘럼 완료" in embed.title
    assert "9주" in embed.description
    assert "<t:" not in all_text(reply)


def test_week_number_shows_that_week_even_before_the_study_starts(snap: StudySnapshot) -> None:
    card = render_week(snap, schedule_of(snap), BEFORE_WEEK_1, "ko", number=3).embeds[0]

    assert card.title == "3주차 · 모두를 위한 딥러닝 시즌2 - PART 2"
    assert f"<t:{unix(thursday(2))}:F>" in card.description


def test_week_number_of_a_finished_session_says_it_is_over(snap: StudySnapshot) -> None:
    card = render_week(snap, schedule_of(snap), thursday(5), "en", number=1).embeds[0]

    assert "over" in card.description


def test_week_in_english_and_korean_differ(snap: StudySnapshot) -> None:
    ko = render_week(snap, schedule_of(snap), BEFORE_WEEK_1, "ko").embeds[0]
    en = render_week(snap, schedule_of(snap), BEFORE_WEEK_1, "en").embeds[0]

    assert "주차" in ko.title
    assert "Week" not in ko.title
    assert en.title == "Week 1 · Learn the Basics"
    assert "Quickstart" in en.fields[0].value
    assert "빠른 시작" in ko.fields[0].value


# --------------------------------------------------------------------------------------------------
# /schedule, /next


def test_schedule_marks_done_this_week_and_cancelled(snap: StudySnapshot) -> None:
    with_cancel = dataclasses.replace(snap, changes=(cancelled(date(2026, 12, 10)),))
    before_third_week = datetime(2026, 12, 22, tzinfo=UTC)  # weeks 1 and 2 done, 12-10 cancelled

    reply = render_schedule(with_cancel, schedule_of(with_cancel), before_third_week, "ko")

    lines = reply.embeds[0].description.splitlines()
    assert len(lines) == 10  # 9 weeks + the cancelled slot
    assert lines[0].startswith("✅ 1주차")
    assert lines[1].startswith("❌")
    assert f"~~<t:{unix(thursday(1))}:D>~~" in lines[1]
    assert lines[2].startswith("✅ 2주차")
    assert lines[3].startswith("**▶️ 3주차")
    assert f"<t:{unix(thursday(3))}:D>" in lines[3]
    assert all(line.startswith("▫️") for line in lines[4:])
    assert_within_limits(reply)


def test_schedule_shows_a_moved_session_at_its_new_time(snap: StudySnapshot) -> None:
    new_time = datetime(2026, 12, 18, 11, 0, tzinfo=UTC)
    moved = dataclasses.replace(
        snap, changes=(SessionChange(original_date=date(2026, 12, 17), cancelled=False, moved_to=new_time),)
    )

    lines = render_schedule(moved, schedule_of(moved), BEFORE_WEEK_1, "en").embeds[0].description.splitlines()

    assert "moved" in lines[2]
    assert f"<t:{unix(new_time)}:f>" in lines[2]
    assert "moved" not in lines[1]


def test_next_names_the_next_sessions_start(snap: StudySnapshot) -> None:
    reply = render_next(snap, schedule_of(snap), WEEK_1 + timedelta(minutes=1), "ko")

    assert f"<t:{unix(thursday(1))}:R>" in reply.embeds[0].title
    assert "2주차" in reply.embeds[0].description


# --------------------------------------------------------------------------------------------------
# /roster, /materials


def test_roster_lists_ten_members_with_the_leader_first(snap: StudySnapshot) -> None:
    reply = render_roster(snap, "ko")

    embed = reply.embeds[0]
    lines = embed.description.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("👑 **차수연**")
    assert "스터디장" in lines[0]
    names = [re.search(r"\*\*(.+?)\*\*", line).group(1) for line in lines]  # type: ignore[union-attr]
    assert sorted(names) == sorted(m.name for m in snap.members)
    assert "10" in embed.title
    assert_within_limits(reply)


def test_roster_shows_linked_account_and_escapes_markdown_in_names(snap: StudySnapshot) -> None:
    member = Member(name="kim_dev", discord_user_id=123456789012345678, github="https://github.com/kim", id=99)
    reply = render_roster(dataclasses.replace(snap, members=(member,)), "en")

    line = reply.embeds[0].description
    assert "**kim\\_dev**" in line
    assert "<@123456789012345678>" in line
    assert "[GitHub](https://github.com/kim)" in line


def test_materials_groups_study_resources_by_kind(snap: StudySnapshot) -> None:
    reply = render_materials(snap, "ko")

    fields = reply.embeds[0].fields
    kinds_in_study = {m.kind for m in snap.resources}
    assert len(fields) == len(kinds_in_study)
    by_name = {f.name: f.value for f in fields}
    for material in snap.resources:
        holding = [name for name, value in by_name.items() if f"]({material.url})" in value]
        assert len(holding) == 1, f"{material.url} appears under {holding}"
    books = next(value for name, value in by_name.items() if "책" in name)
    assert "wikidocs.net/book/2788" in books
    assert "pseudo-lab.github.io" in books
    order = [list(MaterialKind).index(k) for k in MaterialKind if k in kinds_in_study]
    assert order == sorted(order)
    assert_within_limits(reply)


def test_materials_group_names_follow_the_readers_language(snap: StudySnapshot) -> None:
    ko = {f.name for f in render_materials(snap, "ko").embeds[0].fields}
    en = {f.name for f in render_materials(snap, "en").embeds[0].fields}

    assert any("Books" in name for name in en)
    assert not any("Books" in name for name in ko)


def test_materials_for_one_week_lists_that_weeks_materials(snap: StudySnapshot) -> None:
    reply = render_materials(snap, "en", week=1)

    embed = reply.embeds[0]
    assert "Week 1" in embed.title
    assert "Learn the Basics" in embed.title
    for material in snap.weeks[0].materials:
        assert material.url in embed.description


# --------------------------------------------------------------------------------------------------
# Reminders ping only the configured role


def _planned(session: Session, offset: timedelta = timedelta(hours=1)) -> PlannedDelivery:
    return PlannedDelivery(session.start, kind_for_offset(offset), session.start - offset, session, offset)


def test_reminder_pings_only_the_configured_role_whatever_the_topic_says(snap: StudySnapshot) -> None:
    hostile = "@everyone <@&1> <@2>"
    weeks = (dataclasses.replace(snap.weeks[0], title=hostile, title_en=hostile), *snap.weeks[1:])
    study = dataclasses.replace(snap, weeks=weeks, locale="en")
    first = schedule_of(study)[0]

    reply = render_reminder(study, _planned(first), now=first.start - timedelta(hours=1), late=False)

    assert reply.ping_role_ids == (ROLE_ID,)
    assert reply.content.startswith(f"<@&{ROLE_ID}>")
    mentions = allowed_mentions_for(reply).to_dict()
    assert mentions["parse"] == []
    assert [str(role) for role in mentions.get("roles", [])] == [str(ROLE_ID)]
    assert mentions.get("users", []) == []
    assert "everyone" not in mentions["parse"]
    assert_within_limits(reply)


def test_reminder_without_a_configured_role_pings_nobody(snap: StudySnapshot) -> None:
    study = dataclasses.replace(snap, ping_role_id=None)
    first = schedule_of(study)[0]

    reply = render_reminder(study, _planned(first), now=first.start - timedelta(hours=1), late=False)

    assert reply.ping_role_ids == ()
    assert "<@&" not in reply.content
    mentions = allowed_mentions_for(reply).to_dict()
    assert mentions["parse"] == []
    assert mentions.get("roles", []) == []
    assert mentions.get("users", []) == []


def test_reminder_is_in_the_studys_language_and_says_when_it_is_late(snap: StudySnapshot) -> None:
    first = schedule_of(snap)[0]

    on_time = render_reminder(snap, _planned(first), now=first.start - timedelta(hours=1), late=False)
    late = render_reminder(snap, _planned(first), now=first.start - timedelta(minutes=10), late=True)

    assert "1주차" in on_time.content
    assert f"<t:{unix(WEEK_1)}:R>" in on_time.content
    assert "늦은" in late.content
    assert "늦은" not in on_time.content


def test_cancel_notice_pings_only_the_configured_role(snap: StudySnapshot) -> None:
    study = dataclasses.replace(snap, changes=(cancelled(date(2026, 12, 10), "@here 휴강"),))
    schedule = schedule_of(study)
    [notice] = [
        p
        for p in plan_deliveries(schedule, study.reminder_offsets, since=BEFORE_WEEK_1, until=thursday(2))
        if p.kind == CANCEL_NOTICE
    ]

    reply = render_reminder(study, notice, now=notice.due, late=False)

    assert reply.ping_role_ids == (ROLE_ID,)
    assert "취소" in reply.content
    assert f"<t:{unix(thursday(1))}:F>" in reply.embeds[0].description
    mentions = allowed_mentions_for(reply).to_dict()
    assert mentions["parse"] == []
    assert [str(role) for role in mentions.get("roles", [])] == [str(ROLE_ID)]


# --------------------------------------------------------------------------------------------------
# escape_markdown


@pytest.mark.parametrize("char", ["_", "*", "~", "`", "|", ">", "#", "\\"])
def test_escape_markdown_escapes_each_formatting_character(char: str) -> None:
    assert escape_markdown(f"a{char}b") == f"a\\{char}b"


def test_escape_markdown_leaves_plain_text_alone() -> None:
    assert escape_markdown("파이토치 (PyTorch) 기본 - 1.0") == "파이토치 (PyTorch) 기본 - 1.0"


@given(st.text(max_size=200))
def test_escape_markdown_is_undone_by_removing_one_backslash_before_each_escaped_character(text: str) -> None:
    escaped = escape_markdown(text)

    assert re.sub(r"\\(.)", r"\1", escaped, flags=re.DOTALL) == text


# --------------------------------------------------------------------------------------------------
# fit and join_lines: properties over any text

_texts = st.text(max_size=3000)
_fields = st.builds(EmbedField, name=st.text(max_size=400), value=st.text(max_size=1500), inline=st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    title=st.text(max_size=400),
    description=st.text(max_size=6000),
    fields=st.lists(_fields, max_size=35),
    footer=_texts,
)
def test_fit_always_yields_an_embed_discord_accepts(
    title: str, description: str, fields: list[EmbedField], footer: str
) -> None:
    embed = fit(EmbedSpec(title=title, description=description, fields=fields, footer=footer))

    assert len(embed.title) <= 256
    assert len(embed.description) <= 4096
    assert len(embed.fields) <= 25
    assert all(1 <= len(f.name) <= 256 and 1 <= len(f.value) <= 1024 for f in embed.fields)
    assert len(embed.footer) <= 2048
    assert embed.total_length() <= 6000


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=256),
    description=st.text(max_size=1000),
    fields=st.lists(
        st.builds(EmbedField, name=st.text(min_size=1, max_size=50), value=st.text(min_size=1, max_size=100)),
        max_size=25,
    ),
)
def test_fit_leaves_an_embed_that_already_fits_unchanged(
    title: str, description: str, fields: list[EmbedField]
) -> None:
    original = EmbedSpec(title=title, description=description, fields=[dataclasses.replace(f) for f in fields])

    assert fit(EmbedSpec(title=title, description=description, fields=fields)) == original


_lines = st.lists(st.text(alphabet=st.characters(blacklist_characters="\n\r…"), max_size=120), max_size=60)


@settings(max_examples=150, deadline=None)
@given(lines=_lines, limit=st.integers(min_value=0, max_value=3000))
def test_join_lines_never_exceeds_the_limit(lines: list[str], limit: int) -> None:
    assert len(join_lines(lines, limit, "…and {n} more")) <= limit


@settings(max_examples=150, deadline=None)
@given(lines=_lines, limit=st.integers(min_value=10, max_value=3000))
def test_join_lines_keeps_a_prefix_and_counts_what_it_left_out(lines: list[str], limit: int) -> None:
    joined = join_lines(lines, limit, "…{n}")

    *kept, last = joined.split("\n")
    if last.startswith("…"):
        assert kept == lines[: len(kept)]
        assert last == f"…{len(lines) - len(kept)}"
    else:
        assert joined == "\n".join(lines)


@settings(max_examples=150, deadline=None)
@given(lines=_lines, limit=st.integers(min_value=0, max_value=3000))
def test_join_lines_keeps_everything_when_it_fits_with_room_for_the_note(lines: list[str], limit: int) -> None:
    whole = "\n".join(lines)
    if len(whole) + len(f"…{len(lines)}") + 1 <= limit:
        assert join_lines(lines, limit, "…{n}") == whole


def test_join_lines_keeps_every_line_when_they_all_fit() -> None:
    lines = ["a" * 1000, "b" * 12, "c" * 2]  # 1,016 characters joined: fits a 1,024-character field

    assert join_lines(lines, 1024, "…and {n} more") == "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# A pathological study: every renderer stays within Discord's limits

_MD_TITLE = "_#" * 100  # 200 characters that escape_markdown doubles
# Material titles: 200 characters, partly Markdown (escaping every character of 200 × 200 titles is slow).
_MATERIAL_TITLE = "_#" * 20 + "가" * 160
_LONG_URL = "https://example.com/" + "a" * 480  # 500 characters, the longest URL validation allows
_MD_NAME = "_" * 100  # 100 characters, doubled by escaping


def pathological() -> StudySnapshot:
    kinds = list(MaterialKind)
    materials = tuple(
        Material(
            title=_MATERIAL_TITLE,
            url=_LONG_URL,
            kind=kinds[i % len(kinds)],
            title_en=_MATERIAL_TITLE,
            position=i,
            id=i + 1,
        )
        for i in range(200)
    )
    weeks = tuple(
        Week(
            number=n,
            title=_MD_TITLE,
            title_en=_MD_TITLE,
            notes="_" * 1000,
            materials=materials if n in (1, 50, 100) else materials[:5],
        )
        for n in range(1, 101)
    )
    members = tuple(
        Member(
            name=_MD_NAME[:-3] + f"{i:03}",
            role=MemberRole.LEADER if i == 199 else MemberRole.MEMBER,
            discord_user_id=10**18 + i if i % 2 else None,
            github=_LONG_URL,
            blog=_LONG_URL,
            id=i,
        )
        for i in range(200)
    )
    first = date(2026, 12, 3)
    changes = [cancelled(first + timedelta(weeks=k), "_" * 200) for k in range(1, 140, 3)]
    changes += [
        SessionChange(
            original_date=first + timedelta(weeks=k),
            cancelled=False,
            moved_to=datetime.combine(first + timedelta(weeks=k, days=1), datetime.min.time(), tzinfo=UTC),
            reason="_" * 200,
        )
        for k in range(2, 140, 7)
    ]
    return StudySnapshot(
        id=7,
        guild_id=GUILD_ID,
        name=_MD_NAME,
        locale="ko",
        recurrence=load_definition(SHIPPED).recurrence,
        place=Place(_MD_NAME, _LONG_URL),
        reminder_channel_id=CHANNEL_ID,
        ping_role_id=ROLE_ID,
        admin_role_id=ROLE_ID + 1,
        reminder_offsets=(timedelta(days=14), timedelta(days=1), timedelta(hours=1), timedelta(minutes=10)),
        paused=True,
        members=members,
        weeks=weeks,
        resources=materials,
        changes=tuple(changes),
    )


def _replies_for(snap: StudySnapshot, lang: str, now: datetime) -> dict[str, Reply]:
    schedule = schedule_of(snap)
    planned = plan_deliveries(
        schedule, snap.reminder_offsets, since=now - timedelta(days=30), until=now + timedelta(days=60)
    )
    replies = {
        "week": render_week(snap, schedule, now, lang),
        "week 1": render_week(snap, schedule, now, lang, number=1),
        "week 50": render_week(snap, schedule, now, lang, number=50),
        "week 100": render_week(snap, schedule, now, lang, number=100),
        "materials": render_materials(snap, lang),
        "materials 1": render_materials(snap, lang, week=1),
        "materials 100": render_materials(snap, lang, week=100),
        "schedule": render_schedule(snap, schedule, now, lang),
        "next": render_next(snap, schedule, now, lang),
        "roster": render_roster(snap, lang),
    }
    for index, delivery in enumerate(planned[:8]):
        replies[f"reminder {index} {delivery.kind}"] = render_reminder(
            snap, delivery, now=now, late=bool(index % 2), reference="ref-" + "x" * 25
        )
    cancelled_slots = [s for s in schedule if s.cancelled]
    following = next(s for s in schedule if not s.cancelled and s.start > cancelled_slots[0].start)
    replies["cancel notice"] = render_cancel_notice(
        snap, cancelled_slots[0], following=following, now=now, reference="ref-" + "x" * 25
    )
    return replies


def _admin_replies(snap: StudySnapshot, lang: str, now: datetime) -> dict[str, Reply]:
    schedule = schedule_of(snap)
    planned = plan_deliveries(schedule, snap.reminder_offsets, since=now, until=now + timedelta(days=400))
    deliveries = [
        Delivery(
            study_id=snap.id,
            occurrence=now,
            kind=planned[i % len(planned)].kind,
            status=("claimed", "sent", "failed", "missed")[i % 4],
            due_at=now - timedelta(hours=i),
            late=bool(i % 3),
            last_error="E" * 2000,
            attempts=i,
        )
        for i in range(200)
    ]
    entries = [
        AuditEntry(
            study_id=snap.id,
            actor_id=None if i % 2 else 10**18 + i,
            actor_name="_" * 100,
            action="roster.edit",
            target="_" * 200,
            before='{"name": "' + "_" * 3000 + '"}',
            after="not json " + "_" * 3000,
            created_at=now - timedelta(minutes=i),
        )
        for i in range(25)
    ]
    return {
        "status": render_status(
            snap, lang, upcoming=planned[:50], deliveries=deliveries, problems=["_" * 500 for _ in range(30)]
        ),
        "settings": render_settings(snap, lang, changed=False),
        "settings changed": render_settings(snap, lang, changed=True),
        "audit": render_audit(entries, lang),
        # The services refuse titles over 200 characters before anything is rendered.
        "done": render_done(lang, "curriculum.material_added", title="_" * 200, item=200, week=100),
    }


_PATHOLOGICAL_NOWS = {
    "before-start": BEFORE_WEEK_1,
    "in-a-cancelled-week": datetime(2026, 12, 8, tzinfo=UTC),
    "mid-curriculum": datetime(2027, 6, 1, tzinfo=UTC),
    "long-after-the-end": datetime(2031, 1, 1, tzinfo=UTC),
}


@pytest.fixture(scope="module")
def monster() -> StudySnapshot:
    return pathological()


def test_pathological_study_is_as_big_as_intended(monster: StudySnapshot) -> None:
    assert monster.week_count == 100
    assert len(monster.members) == 200
    assert len(monster.weeks[0].materials) == 200
    assert any(s.cancelled for s in schedule_of(monster))


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("moment", list(_PATHOLOGICAL_NOWS), ids=list(_PATHOLOGICAL_NOWS))
def test_every_member_reply_stays_within_discord_limits(monster: StudySnapshot, lang: str, moment: str) -> None:
    now = _PATHOLOGICAL_NOWS[moment]
    replies = _replies_for(monster, lang, now)

    for name, reply in replies.items():
        try:
            assert_within_limits(reply)
        except AssertionError as exc:
            raise AssertionError(f"/{name} at {moment} ({lang}): {exc}") from exc


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_admin_reply_stays_within_discord_limits(monster: StudySnapshot, lang: str) -> None:
    for name, reply in _admin_replies(monster, lang, datetime(2026, 12, 8, tzinfo=UTC)).items():
        try:
            assert_within_limits(reply)
        except AssertionError as exc:
            raise AssertionError(f"{name} ({lang}): {exc}") from exc


def test_long_lists_say_how_many_items_they_left_out(monster: StudySnapshot) -> None:
    materials = render_materials(monster, "en", week=1).embeds[0].description
    roster = render_roster(monster, "en").embeds[0].description

    shown_materials = len(re.findall(r"^\d+\. ", materials, flags=re.MULTILINE))
    assert materials.endswith(f"…and {200 - shown_materials} more")
    shown_members = roster.count("\n")
    assert roster.endswith(f"…and {200 - shown_members} more")
