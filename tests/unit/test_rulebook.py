"""Specification of the rulebook (bot/core/validation.py) and of how links are rendered.

One rule per kind of value, whichever way it arrives; and whatever a stored title or URL holds once it passed
the rules, the Markdown the bot sends opens exactly the links it means to — checked by parsing the output the
way Discord's Markdown parser reads it.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import validation
from bot.core.model import Material, MaterialKind, Member, MemberRole, Place, Recurrence, StudySnapshot, Week
from bot.core.schedule import build_schedule
from bot.core.validation import (
    check_first_session,
    check_ping_role,
    clean_name,
    clean_text,
    clean_title,
    clean_url,
    escape_markdown,
    first_on_weekday,
    parse_offsets,
    safe_url,
)
from bot.delivery.messages import render_reminder
from bot.delivery.plan import PlannedDelivery, kind_for_offset
from bot.errors import UserError
from bot.i18n import t
from bot.render.admin import render_settings
from bot.render.embeds import Reply, bare_link, masked_link
from bot.render.study import render_materials, render_next, render_roster, render_schedule, render_week

PHISH = "https://docs.pytorch.org/x)[Claim Nitro](https://phish.example/login"
PHISH_NO_SPACE = "https://docs.pytorch.org/x)[Claim_Nitro](https://phish.example/login"

# --------------------------------------------------------------------------------------------------
# A model of Discord's inline Markdown (simple-markdown's rules, in Discord's order), reduced to what
# matters here: which links a text opens.

_ESCAPE = re.compile(r"\\([^0-9A-Za-z\s])")
_CODE = re.compile(r"(`+)([\s\S]*?[^`])\1(?!`)")
_AUTOLINK = re.compile(r"<([^: >]+:/[^ >]+)>")
_URL = re.compile(r"(https?://[^\s<]+[^<.,:;\"')\]\s])")
_LINK_INSIDE = r"(?:\[[^\]]*\]|[^\[\]]|\](?=[^\[]*\]))*"
_LINK = re.compile(r"\[(" + _LINK_INSIDE + r")\]\(\s*<?((?:\([^)]*\)|[^\s\\])*?)>?(?:\s+['\"]([\s\S]*?)['\"])?\s*\)")
_TEXT = re.compile(r"[\s\S]+?(?=[^0-9A-Za-z\s\u00c0-\uffff]|\n\n| {2,}\n|\w+:\S|$)")


def links_in(markdown: str) -> list[tuple[str, str]]:
    """(label, target) of every link `markdown` opens: masked links, <autolinks> and bare URLs."""
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(markdown):
        rest = markdown[position:]
        if (match := _ESCAPE.match(rest)) or (match := _CODE.match(rest)):
            position += match.end()
        elif (match := _AUTOLINK.match(rest)) or (match := _URL.match(rest)):
            found.append((match.group(1), match.group(1)))
            position += match.end()
        elif match := _LINK.match(rest):
            assert links_in(match.group(1)) == [], f"a link inside a link's text: {match.group(0)!r}"
            found.append((match.group(1), match.group(2)))
            position += match.end()
        else:
            match = _TEXT.match(rest)
            position += match.end() if match and match.end() else 1
    return found


def test_the_markdown_model_sees_the_breakout_that_a_raw_url_would_cause() -> None:
    """The defect: the URL pasted into `[title](url)` as it was stored opened a second, masked link."""
    raw = f"📘 [Docs]({PHISH_NO_SPACE})"
    assert [target for _, target in links_in(raw)] == [
        "https://docs.pytorch.org/x",
        "https://phish.example/login",
    ]


def reply_texts(reply: Reply) -> list[str]:
    """Every part of a reply that Discord renders as Markdown with links."""
    texts = [reply.content]
    for embed in reply.embeds:
        texts += [embed.description, *(field.value for field in embed.fields)]
    return texts


def reply_links(reply: Reply) -> list[str]:
    return [target for text in reply_texts(reply) for _, target in links_in(text)]


# --------------------------------------------------------------------------------------------------
# Text


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("@here", "error.text_mention"),
        ("모두 @everyone", "error.text_mention"),
        ("<@&123>", "error.text_markdown"),
        ("<@123>", "error.text_markdown"),
        ("**bold**", "error.text_markdown"),
        ("[x](https://phish.example)", "error.text_markdown"),
        ("~~old~~", "error.text_markdown"),
        ("||spoiler||", "error.text_markdown"),
        ("`code`", "error.text_markdown"),
        ("see https://phish.example", "error.text_link"),
        ("two\nlines", "error.text_control"),
        ("right\u202eto left", "error.text_control"),
        ("   ", "error.text_empty"),
        ("가" * 101, "error.text_too_long"),
    ],
)
def test_names_refuse_what_could_ping_restyle_or_link(value: str, key: str) -> None:
    with pytest.raises(UserError) as caught:
        clean_name(value)
    assert caught.value.key == key
    assert caught.value.params["field"] == "name"


@pytest.mark.parametrize(
    "value", ["PyTorch 기본 (1)", "02~05장 | 보충", "lab-01_tensor.ipynb", '"파이토치"냐 #1?', "C++: 포인터", "a@b"]
)
def test_plain_text_with_single_tildes_bars_and_punctuation_is_accepted(value: str) -> None:
    assert clean_title(value) == value


def test_notes_keep_line_breaks_but_follow_the_same_rules() -> None:
    assert clean_text(" a\r\nb\t c ", field="notes", limit=100, multiline=True) == "a\nb\t c"
    with pytest.raises(UserError) as caught:
        clean_text("a\n[x](https://p.example)", field="notes", limit=100, multiline=True)
    assert caught.value.key == "error.text_markdown"


def test_every_rule_message_names_the_field_first_in_both_languages() -> None:
    """The file and the config reuse the English sentence after the field name, so it must start with it."""
    for key in ("text_empty", "text_too_long", "text_control", "text_link", "text_markdown", "url_scheme"):
        for lang in ("ko", "en"):
            assert t(lang, f"error.{key}", field="F").startswith("`F`")


# --------------------------------------------------------------------------------------------------
# Links


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("https://docs.pytorch.org/x", "https://docs.pytorch.org/x"),
        (
            "https://docs.pytorch.org/x)[Claim](https://phish.example/login",
            "https://docs.pytorch.org/x%29%5BClaim%5D%28https://phish.example/login",
        ),
        ("https://en.wikipedia.org/wiki/Python_(language)", "https://en.wikipedia.org/wiki/Python_%28language%29"),
        ("HTTPS://Docs.PyTorch.org:8443/A?b=<c>#d", "https://docs.pytorch.org:8443/A?b=%3Cc%3E#d"),
        ("https://a.example/100%/x%41", "https://a.example/100%25/x%41"),
        ("https://tutorials.pytorch.kr/강의/1", "https://tutorials.pytorch.kr/강의/1"),
        ("  http://127.0.0.1/x  ", "http://127.0.0.1/x"),
        ("https://medium.com/@someone/post", "https://medium.com/@someone/post"),
    ],
)
def test_urls_are_normalized_so_no_character_can_end_or_open_a_link(value: str, normalized: str) -> None:
    assert clean_url(value) == normalized
    assert clean_url(normalized) == normalized


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (PHISH, "error.url_char"),
        ("javascript:alert(1)", "error.url_scheme"),
        ("ftp://files.example/x", "error.url_scheme"),
        ("docs.pytorch.org/x", "error.url_scheme"),
        ("https://docs.pytorch.org\\@phish.example/", "error.url_char"),
        ("https://docs.pytorch.org/\u202ex", "error.url_char"),
        ("https://docs.pytorch.org@phish.example/", "error.url_userinfo"),
        ("https://localhost/x", "error.url_host"),
        ("https://-bad-.example/", "error.url_host"),
        ("https:///x", "error.url_host"),
        ("https://a.example:0/", "error.url_host"),
        ("https://a.example/" + "x" * 500, "error.text_too_long"),
        ("", "error.url_scheme"),
    ],
)
def test_urls_that_cannot_be_a_safe_link_are_refused_saying_why(value: str, key: str) -> None:
    with pytest.raises(UserError) as caught:
        clean_url(value, field="url")
    assert caught.value.key == key


def test_optional_urls_may_be_empty() -> None:
    assert clean_url("  ", field="github", required=False) == ""


@given(st.text(max_size=80))
def test_normalizing_is_idempotent_for_any_text(tail: str) -> None:
    try:
        once = clean_url("https://a.example/" + tail)
    except UserError:
        return
    assert clean_url(once) == once


# --------------------------------------------------------------------------------------------------
# Schedule and ids


def test_first_session_must_fall_on_the_weekday_with_the_weekday_named_in_the_readers_language() -> None:
    with pytest.raises(UserError) as caught:
        check_first_session(date(2027, 1, 8), 3)
    assert caught.value.key == "error.first_session_weekday"
    assert "금요일" in t("ko", caught.value.key, **caught.value.params)
    assert "is a Friday, but the study meets on Thursdays" in t("en", caught.value.key, **caught.value.params)
    assert check_first_session(date(2027, 1, 7), 3) == date(2027, 1, 7)
    assert first_on_weekday(date(2027, 1, 7), 4) == date(2027, 1, 8)


def test_the_everyone_role_is_the_servers_own_id() -> None:
    with pytest.raises(UserError) as caught:
        check_ping_role(42, guild_id=42)
    assert caught.value.key == "settings.bad_role"
    assert check_ping_role(43, guild_id=42) == 43


def test_offsets_typed_in_discord_follow_the_files_spelling() -> None:
    assert parse_offsets("1h, 1d") == (timedelta(days=1), timedelta(hours=1))
    for bad in ("30m1h", "1h, 60m", "15d", "1d,2h,3h,4h,5h,6h", "99999999999d", ",", "every day"):
        with pytest.raises(UserError):
            parse_offsets(bad)


# --------------------------------------------------------------------------------------------------
# Rendering: exactly the links we mean

ROLE_ID = 900000000000000003
START = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


def _snapshot(*, titles: list[str], urls: list[str], place: str, place_url: str, member: str) -> StudySnapshot:
    materials = tuple(
        Material(title=title, url=url, kind=MaterialKind.TUTORIAL, title_en=title, position=index, id=index + 1)
        for index, (title, url) in enumerate(zip(titles, urls, strict=True))
    )
    return StudySnapshot(
        id=1,
        guild_id=900000000000000001,
        name="스터디",
        locale="ko",
        recurrence=Recurrence(3, time(9, 0), timedelta(hours=1), "Asia/Seoul", date(2026, 12, 3)),
        place=Place(place, place_url),
        reminder_channel_id=900000000000000002,
        ping_role_id=ROLE_ID,
        admin_role_id=None,
        reminder_offsets=(timedelta(hours=1),),
        paused=False,
        members=(
            Member(member, MemberRole.LEADER, 7, github=urls[0] if urls else "", blog=place_url, id=1),
            Member(member + "2", MemberRole.LEADER, None, id=2),
        ),
        weeks=(Week(1, titles[0] if titles else "주제", titles[-1] if titles else "", "노트", materials),),
        resources=materials,
    )


def _intended(*urls: str) -> Counter[str]:
    return Counter(target for url in urls if url and (target := safe_url(url)))


def _assert_only_intended(reply: Reply, intended: Counter[str], *, complete: bool) -> None:
    found = Counter(reply_links(reply))
    assert not found - intended, f"links nobody meant: {found - intended}"
    if complete:
        assert found == intended


def test_the_reported_url_renders_as_one_link_to_its_own_site() -> None:
    stored = clean_url("https://docs.pytorch.org/x)[Claim](https://phish.example/login")
    snap = _snapshot(titles=["Docs"], urls=[stored], place="Gather", place_url="", member="김철수")
    reply = render_materials(snap, "ko", 1)
    assert reply_links(reply) == [stored]
    assert links_in(reply.embeds[0].description)[0][1].startswith("https://docs.pytorch.org/")


def test_a_stored_url_from_before_the_rules_shows_its_title_without_a_link() -> None:
    snap = _snapshot(titles=["Docs"], urls=[PHISH], place="Gather", place_url="", member="김철수")
    reply = render_materials(snap, "ko", 1)
    assert reply_links(reply) == []
    assert "Docs" in reply.embeds[0].description


def test_masked_link_text_is_escaped_and_bare_links_are_bracketed() -> None:
    assert masked_link("a]b[c", "https://a.example/(x)") == "[a\\]b\\[c](https://a.example/%28x%29)"
    assert bare_link("https://a.example/x y") == ""
    assert bare_link("https://a.example/(x)") == "<https://a.example/%28x%29>"
    assert escape_markdown("see https://x.example") == "see https\\://x.example"


_MARKDOWNY = st.sampled_from([*list("ab가 _#~|():/@!.\"'-=?&%{}^$+,;"), "https", "://", "~~", "||", "[", "]", "*"])
_TEXTS = st.lists(_MARKDOWNY, min_size=1, max_size=40).map("".join)


def _rule_passing(strategy: st.SearchStrategy[str], rule: object) -> st.SearchStrategy[str]:
    def ok(text: str) -> bool:
        try:
            return rule(text) == text  # type: ignore[operator]
        except UserError:
            return False

    return strategy.map(str.strip).filter(ok)


_TITLES = _rule_passing(_TEXTS, clean_title)
_NAMES = _rule_passing(_TEXTS, clean_name)
_URL_TAILS = st.lists(
    st.sampled_from([*list("ab/()[]<>\"'|{}^`*_~#:@!%?=&.,;-"), "https://phish.example", "x)[y](https://p.example"]),
    max_size=30,
).map("".join)
# Stored URLs: most normalized by the rules, some raw as a database from before the rules might hold them.
_STORED_URLS = st.one_of(
    st.builds("https://docs.pytorch.org/{}".format, _URL_TAILS).map(lambda url: safe_url(url) or "https://a.example/"),
    st.builds("https://docs.pytorch.org/{}".format, _URL_TAILS),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    titles=st.lists(_TITLES, min_size=1, max_size=4),
    urls=st.lists(_STORED_URLS, min_size=4, max_size=4),
    place=_NAMES,
    place_url=st.one_of(st.just(""), _STORED_URLS),
    member=_NAMES,
)
def test_rendered_markdown_opens_exactly_the_links_we_intend(
    titles: list[str], urls: list[str], place: str, place_url: str, member: str
) -> None:
    urls = urls[: len(titles)]
    snap = _snapshot(titles=titles, urls=urls, place=place, place_url=place_url, member=member)
    schedule = build_schedule(snap.recurrence, snap.changes, snap.week_count)
    session = schedule[0]
    before = session.start - timedelta(hours=1)
    reminder = PlannedDelivery(session.start, kind_for_offset(timedelta(hours=1)), before, session, timedelta(hours=1))

    for lang in ("ko", "en"):
        _assert_only_intended(render_materials(snap, lang), _intended(*urls), complete=False)
        _assert_only_intended(render_materials(snap, lang, 1), _intended(*urls), complete=True)
        week = render_week(snap, schedule, before, lang)
        _assert_only_intended(week, _intended(*urls, place_url), complete=True)
        _assert_only_intended(render_next(snap, schedule, before, lang), _intended(place_url), complete=True)
        _assert_only_intended(render_schedule(snap, schedule, before, lang), Counter(), complete=True)
        _assert_only_intended(render_roster(snap, lang), _intended(urls[0], place_url), complete=True)
        _assert_only_intended(render_settings(snap, lang, changed=True), _intended(place_url), complete=True)
    sent = render_reminder(snap, reminder, now=before, late=False)
    _assert_only_intended(sent, _intended(*urls, place_url), complete=True)


@given(st.text(alphabet='AZaz09-._~!$&*+,;=:@/?#%Fe\\ <>"é\u200b', max_size=40))
def test_the_fast_path_for_plain_links_keeps_what_the_full_check_would(rest: str) -> None:
    # A link made only of kept characters and well-formed %-escapes skips the character-by-character check and
    # the encoding; for it both must have nothing to do, or the fast path would let a different link through.
    url = "https://example.com/" + rest
    if validation._PLAIN_URL.fullmatch(url) is None or validation._BAD_PERCENT.search(url) is not None:
        return  # the full check runs (covered by the tests above)
    assert validation._encode_rest("/" + rest) == "/" + rest
    assert not any(c.isspace() or c == "\\" or not c.isprintable() for c in url)
    assert validation.clean_url(url) == url
