"""FHIR search parameters read strictly: anything unknown or malformed is a 400."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from werkzeug.datastructures import MultiDict

from fhir_r4.resources.vocabulary import LOINC
from services.fhir.scope import TimeRange

DEFAULT_COUNT = 50
MAX_COUNT = 200
ID_MAX = 2**63 - 1
# Parameters every search accepts. _format may only ask for JSON.
COMMON = frozenset({"_count", "_cursor", "_format"})
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})

_LOINC_CODE = re.compile(r"^\d{1,7}-\d$")
_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d{1,6})?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2}))?)?)?$"
)
_PREFIXES = ("eq", "ge", "le", "gt", "lt")
_ID = re.compile(r"^[1-9]\d{0,18}$")


class SearchError(Exception):
    """A bad search: answered 400 with an OperationOutcome naming the parameter."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def check_names(args: MultiDict[str, str], allowed: Iterable[str]) -> None:
    """400 for any parameter this search does not know (FHIR's strict handling)."""
    known = COMMON | set(allowed)
    unknown = sorted(set(args) - known)
    if unknown:
        raise SearchError(f"Unknown search parameter: {', '.join(unknown)}.")
    for value in args.getlist("_format"):
        if value not in JSON_FORMATS:
            raise SearchError("Only _format=json is served.")


def _single(args: MultiDict[str, str], name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise SearchError(f"{name} may be given once.")
    return values[0] if values else None


def count(args: MultiDict[str, str]) -> int:
    """_count: 1-200 (default 50)."""
    raw = _single(args, "_count")
    if raw is None:
        return DEFAULT_COUNT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
        raise SearchError(f"_count must be an integer from 1 to {MAX_COUNT}.")
    return int(raw)


def encode_cursor(kind: int, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"f1:{kind}:{last_id}".encode()).decode().rstrip("=")


def cursor(args: MultiDict[str, str]) -> tuple[int, int]:
    """_cursor: (kind, last id) of the page before; (0, 0) for the first page."""
    raw = _single(args, "_cursor")
    if raw is None:
        return 0, 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, kind, last = text.split(":")
        if prefix != "f1":
            raise ValueError(prefix)
        values = int(kind), int(last)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise SearchError("_cursor is not one this server issued.") from None
    if not (0 <= values[0] < 10 and 0 <= values[1] <= ID_MAX):
        raise SearchError("_cursor is not one this server issued.")
    return values


def resource_id(raw: str, *, prefix: str = "") -> int | None:
    """The number in an id such as "12" or "phq9-12" (None when it is not one we issue)."""
    if prefix:
        if not raw.startswith(prefix + "-"):
            return None
        raw = raw[len(prefix) + 1 :]
    return int(raw) if _ID.match(raw) and int(raw) <= ID_MAX else None


def patient(args: MultiDict[str, str], name: str = "patient") -> int | None:
    """patient=Patient/{id} or {id}."""
    raw = _single(args, name)
    if raw is None:
        return None
    value = raw.removeprefix("Patient/")
    found = resource_id(value)
    if found is None:
        raise SearchError(f"{name} must be Patient/{{id}} or {{id}}.")
    return found


def codes(args: MultiDict[str, str]) -> set[str] | None:
    """code=[system]|code, comma-separated for OR; the LOINC codes asked for (may be empty).

    A code under another system matches nothing; a malformed token or LOINC code is a 400.
    """
    values = args.getlist("code")
    if not values:
        return None
    found: set[str] = set()
    for value in values:
        for token in value.split(","):
            system, bar, code = token.rpartition("|")
            if not bar:
                system, code = "", token
            if token.count("|") > 1 or not code:
                raise SearchError(f"code {token!r} is not [system]|code.")
            if system in ("", LOINC):
                if not _LOINC_CODE.match(code):
                    raise SearchError(f"code {code!r} is not a LOINC code (e.g. 44261-6).")
                found.add(code)
    return found


def _bounds(value: str) -> tuple[datetime, datetime]:
    """The instant range a FHIR date or dateTime stands for (dates are UTC days)."""
    m = _DATE.match(value)
    if not m:
        raise SearchError(f"{value!r} is not a FHIR date or dateTime.")
    try:
        y, mo, d = int(m["y"]), int(m["m"] or 1), int(m["d"] or 1)
        if m["H"] is None:
            start = datetime(y, mo, d, tzinfo=UTC)
            if m["d"]:
                end = start + timedelta(days=1)
            elif m["m"]:
                end = datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=UTC)
            else:
                end = datetime(y + 1, 1, 1, tzinfo=UTC)
            return start, end
        if m["tz"] is None:
            raise SearchError(f"{value!r}: a time needs a time zone (Z or ±hh:mm).")
        start = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        precision = timedelta(seconds=1) if m["S"] else timedelta(minutes=1)
        if m["f"]:
            precision = timedelta(microseconds=1)
        return start, start + precision
    except (ValueError, OverflowError):
        raise SearchError(f"{value!r} is not a valid date.") from None


def dates(args: MultiDict[str, str], name: str) -> list[TimeRange]:
    """date=[prefix]value, repeatable (AND): ge, le, gt, lt, eq (the default)."""
    ranges = []
    for raw in args.getlist(name):
        prefix, value = (raw[:2], raw[2:]) if raw[:2] in _PREFIXES else ("eq", raw)
        if not value:
            raise SearchError(f"{name} {raw!r} has no value.")
        start, end = _bounds(value)
        ranges.append(
            {
                "eq": TimeRange(lower=start, upper=end),
                "ge": TimeRange(lower=start),
                "gt": TimeRange(lower=end),
                "le": TimeRange(upper=end),
                "lt": TimeRange(upper=start),
            }[prefix]
        )
    return ranges


@dataclass(frozen=True, slots=True)
class Page:
    count: int
    kind: int
    after_id: int


def page(args: MultiDict[str, str]) -> Page:
    kind, after = cursor(args)
    return Page(count=count(args), kind=kind, after_id=after)


def types(raw: str | None, supported: Sequence[str]) -> list[str]:
    """_type for $export: a comma-separated subset of the supported types."""
    if raw is None or raw == "":
        return list(supported)
    asked = [t.strip() for t in raw.split(",")]
    bad = [t for t in asked if t not in supported]
    if bad:
        raise SearchError(f"_type: not exported here: {', '.join(bad)}.")
    return list(dict.fromkeys(asked))


def instant(raw: str | None, name: str) -> datetime | None:
    """An instant parameter such as _since (a full dateTime with a zone)."""
    if raw is None:
        return None
    m = _DATE.match(raw)
    if not m or m["H"] is None or m["tz"] is None:
        raise SearchError(f"{name} must be an instant, e.g. 2026-11-01T00:00:00Z.")
    return _bounds(raw)[0]
