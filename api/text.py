"""Text no database can store: refused as bad input at every door, never a 500 later."""

from __future__ import annotations

import re

# PostgreSQL cannot store NUL in text, and a lone UTF-16 surrogate (e.g. JSON "\ud83d", half
# an emoji) is not Unicode at all: no database driver can encode it.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Nesting beyond this is not searched (the JSON parser refuses far deeper documents first).
MAX_DEPTH = 64


def unstorable(text: str) -> bool:
    """Whether a string holds a NUL or a lone surrogate."""
    return _UNSTORABLE.search(text) is not None


def holds_unstorable(value: object, depth: int = 0) -> bool:
    """Whether a parsed JSON document has unstorable text in any key or string."""
    if isinstance(value, str):
        return unstorable(value)
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return any(holds_unstorable(k) or holds_unstorable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_unstorable(v, depth + 1) for v in value)
    return False
