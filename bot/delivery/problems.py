"""Problems with background delivery that admins should see in `/admin reminders status`.

Each part of delivery (reminder posting, server-event sync) reports into its own slot per study, as a
catalogue key and its parameters, so the status view renders them in the reader's language.
"""

from __future__ import annotations


class ProblemBoard:
    def __init__(self) -> None:
        self._by_study: dict[int, dict[str, tuple[str, dict[str, str]]]] = {}

    def note(self, study_id: int, slot: str, key: str | None, **params: str) -> None:
        """Record (or clear, with key None) the problem in `slot` for a study."""
        bucket = self._by_study.setdefault(study_id, {})
        if key is None:
            bucket.pop(slot, None)
        else:
            bucket[slot] = (key, params)

    def of(self, study_id: int) -> list[tuple[str, dict[str, str]]]:
        return list(self._by_study.get(study_id, {}).values())
