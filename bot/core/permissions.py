"""Who counts as a study admin: Manage Server always does; so does the study's configured admin role."""

from __future__ import annotations

from collections.abc import Iterable


def is_study_admin(*, manage_guild: bool, role_ids: Iterable[int], admin_role_id: int | None) -> bool:
    if manage_guild:
        return True
    return admin_role_id is not None and admin_role_id in set(role_ids)
