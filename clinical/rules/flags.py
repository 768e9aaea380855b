"""A flag (a rule that fired), the kinds and priorities it carries, and how they rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clinical.vocabulary import Kind, Priority

# In the order the rules rank kinds (their declaration order).
KINDS: tuple[str, ...] = tuple(Kind)

PRIORITIES: tuple[str, ...] = tuple(Priority)
_RANKS: dict[str, int] = {Priority.URGENT: 3, Priority.HIGH: 2, Priority.ROUTINE: 1}


def priority_rank(priority: str) -> int:
    """Sortable rank of a priority: urgent 3 > high 2 > routine 1."""
    try:
        return _RANKS[priority]
    except KeyError:
        raise ValueError(f"Unknown priority {priority!r}.") from None


@dataclass(frozen=True, slots=True)
class Flag:
    """A rule that fired: kind, priority, stable rule id and JSON-able evidence."""

    kind: str
    priority: str
    rule: str
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "priority": self.priority,
            "rule": self.rule,
            "evidence": self.evidence,
        }


def highest_per_kind(flags: Sequence[Flag]) -> list[Flag]:
    """Keep one flag per kind (the highest priority, first wins ties), most urgent first."""
    best: dict[str, Flag] = {}
    for flag in flags:
        current = best.get(flag.kind)
        if current is None or priority_rank(flag.priority) > priority_rank(current.priority):
            best[flag.kind] = flag
    order = {kind: index for index, kind in enumerate(KINDS)}
    return sorted(
        best.values(),
        key=lambda f: (-priority_rank(f.priority), order.get(f.kind, len(order)), f.rule),
    )
