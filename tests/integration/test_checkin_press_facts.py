"""A press reads the schedule and the roster from what was computed once per snapshot; any change of the
study (a link, a moved session) is seen by the very next press."""

from __future__ import annotations

import pytest

from bot.clock import FrozenClock
from bot.core.attendance import AttendanceStatus
from bot.runtime import Runtime
from bot.services.attendance import NotLinked
from tests.conftest import ADMIN, GUILD_ID
from tests.integration.test_attendance import MIN, WEEK1, check_in, link_first

pytestmark = pytest.mark.practice


async def test_a_link_made_after_a_refused_press_is_seen_by_the_next_press(
    runtime: Runtime, clock: FrozenClock
) -> None:
    clock.set(WEEK1 - 5 * MIN)
    with pytest.raises(NotLinked):
        await check_in(runtime)  # computed for this snapshot: nobody linked yet
    name = await link_first(runtime)
    result = await check_in(runtime)
    assert (result.member, result.status, result.already) == (name, AttendanceStatus.PRESENT, False)


async def test_a_link_moved_to_another_account_is_seen_by_the_next_press(runtime: Runtime, clock: FrozenClock) -> None:
    name = await link_first(runtime)
    clock.set(WEEK1 - 5 * MIN)
    assert (await check_in(runtime)).member == name
    await runtime.services.roster.link(guild_id=GUILD_ID, actor=ADMIN, name=name, user_id=800000000000000042)
    with pytest.raises(NotLinked):
        await check_in(runtime)  # the old account is no longer on the roster
    again = await check_in(runtime, user_id=800000000000000042)
    assert (again.member, again.already) == (name, True)  # the roster entry had checked in already
