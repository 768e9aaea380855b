"""Domain error for invalid clinical input, keyed by field path."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Input that breaks a clinical rule; `errors` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors: dict[str, list[str]] = {path: list(msgs) for path, msgs in errors.items()}
        summary = "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in self.errors.items())
        super().__init__(summary or "Invalid input.")
