"""User errors: exceptions that carry a catalogue key, rendered in the reader's language, ephemeral."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Something the user asked for is not allowed; `key` names the message in the catalogues."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def __repr__(self) -> str:
        return f"UserError({self.key!r}, {self.params!r})"
