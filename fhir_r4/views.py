"""The FHIR R4 read API under /fhir/R4: a thin door over services.fhir.

Each view reads its parameters strictly (fhir_r4.search), calls service functions (which
scope to the clinician's clinic and audit), builds resources (fhir_r4.resources) and answers
them as application/fhir+json after fhir.resources has validated them. Every error under
/fhir/ leaves as an OperationOutcome with the status the API would give. The Bulk Data
$export views are in fhir_r4.export, on the same blueprint (fhir_r4.blueprint).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Flask, Response, request

from api.errors import PROBLEM_JSON
from api.extensions import db
from api.security import require, the_user
from fhir_r4 import (
    export,  # noqa: F401  (the Bulk Data routes, on the same blueprint)
    search,
)
from fhir_r4.blueprint import PREFIX, base_url, bp, clock_now, fhir_response, outcome
from fhir_r4.resources import (
    checkins,
    demographics,
    instruments,
    server,
    vitals,
    vocabulary,
)
from services.errors import NotFound
from services.fhir import compartment, reads, searches
from services.fhir.scope import TimeRange
from store.models import Role
from store.reports import Phq9Checkin

# One kind of row in a paged search: fetch(after_id, limit) -> [(row id, resource)].
Fetch = Callable[[int, int], list[tuple[int, dict[str, Any]]]]
Row = TypeVar("Row")


def _page_links(next_cursor: str | None) -> tuple[str, str | None]:
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "_cursor"]
    self_url = request.base_url + (
        "?" + urlencode(list(request.args.items(multi=True))) if request.args else ""
    )
    if next_cursor is None:
        return self_url, None
    return self_url, request.base_url + "?" + urlencode([*args, ("_cursor", next_cursor)])


def _paged(kinds: Sequence[tuple[int, Fetch]], page: search.Page) -> Response:
    """Walk the kinds in order from the cursor, filling one page, and link the next."""
    found: list[dict[str, Any]] = []
    next_cursor: str | None = None
    for kind, fetch in kinds:
        if kind < page.kind:
            continue
        wanted = page.count - len(found)
        rows = fetch(page.after_id if kind == page.kind else 0, wanted + 1)
        found.extend(resource for _, resource in rows[:wanted])
        if len(rows) > wanted:
            next_cursor = (
                search.encode_cursor(kind, rows[wanted - 1][0])
                if wanted
                else (search.encode_cursor(kind, 0))
            )
            break
        if len(found) >= page.count:
            later = [k for k, _ in kinds if k > kind]
            next_cursor = search.encode_cursor(later[0], 0) if later else None
            break
    self_url, next_url = _page_links(next_cursor)
    return fhir_response(server.searchset(base_url(), found, self_url=self_url, next_url=next_url))


# --- capabilities and questionnaires ----------------------------------------------------------


@bp.get("/metadata")
def metadata() -> Response:
    """CapabilityStatement (public, as FHIR clients expect to read it before logging in)."""
    search.check_names(request.args, ())
    return fhir_response(server.capability_statement(base_url(), now=clock_now()))


@bp.get("/Questionnaire")
@require(Role.CLINICIAN)
def questionnaires() -> Response:
    search.check_names(request.args, ("_id", "url"))
    wanted_id, wanted_url = request.args.get("_id"), request.args.get("url")
    found = [
        q()
        for qid, q in instruments.QUESTIONNAIRES.items()
        if (wanted_id is None or wanted_id == qid)
        and (wanted_url is None or wanted_url == q()["url"])
    ]
    return fhir_response(server.searchset(base_url(), found, self_url=request.url, next_url=None))


@bp.get("/Questionnaire/<qid>")
@require(Role.CLINICIAN)
def questionnaire(qid: str) -> Response:
    search.check_names(request.args, ())
    build = instruments.QUESTIONNAIRES.get(qid)
    if build is None:
        raise NotFound("No such Questionnaire: phq-9 and asrm are served.")
    return fhir_response(build())


# --- patients ---------------------------------------------------------------------------------


def _patient_id(raw: str) -> int:
    found = search.resource_id(raw)
    if found is None:
        raise NotFound("No such Patient.")
    return found


@bp.get("/Patient")
@require(Role.CLINICIAN)
def patients() -> Response:
    search.check_names(request.args, ("_id",))
    page = search.page(request.args)
    user, now = the_user(), clock_now()
    wanted = request.args.get("_id")
    if wanted is not None:
        pid = search.resource_id(wanted)
        if pid is None:
            raise search.SearchError("_id must be a patient id.")
        try:
            found = [
                demographics.patient(reads.read_patient(db(), viewer=user, patient_id=pid, now=now))
            ]
        except NotFound:
            found = []
        return fhir_response(
            server.searchset(base_url(), found, self_url=request.url, next_url=None)
        )

    def fetch(after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = searches.list_patients(db(), viewer=user, after_id=after, limit=limit, now=now)
        return [(p.user_id, demographics.patient(p)) for p in rows]

    return _paged([(0, fetch)], page)


@bp.get("/Patient/<pid>")
@require(Role.CLINICIAN)
def patient(pid: str) -> Response:
    search.check_names(request.args, ())
    profile = reads.read_patient(
        db(), viewer=the_user(), patient_id=_patient_id(pid), now=clock_now()
    )
    return fhir_response(demographics.patient(profile))


@bp.get("/Patient/<pid>/$everything")
@require(Role.CLINICIAN)
def everything(pid: str) -> Response:
    """The patient, every QuestionnaireResponse and every Observation, as one searchset."""
    search.check_names(request.args, ())
    record = compartment.everything(
        db(), viewer=the_user(), patient_id=_patient_id(pid), now=clock_now()
    )
    found: list[dict[str, Any]] = [demographics.patient(record.patient)]
    for row in record.checkins:
        found.extend(checkins.responses(row))
    found.extend(checkins.phq9_total(row) for row in record.checkins)
    for v in record.vitals:
        found.extend(vitals.vitals_observations(v))
    return fhir_response(
        server.searchset(base_url(), found, self_url=request.url, next_url=None, total=len(found))
    )


# --- questionnaire responses and observations ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Criteria:
    """What a search of patient data asked: whose records, over which dates, as of when."""

    patient_id: int | None
    when: Sequence[TimeRange]
    now: datetime


def _criteria(names: Sequence[str], date_param: str) -> tuple[search.Page, _Criteria]:
    """Read a patient-data search's parameters, in the order their errors are reported."""
    search.check_names(request.args, names)
    page = search.page(request.args)
    pid = search.patient(request.args)
    when = search.dates(request.args, date_param)
    return page, _Criteria(patient_id=pid, when=when, now=clock_now())


def _built(
    rows: Iterable[Row], key: Callable[[Row], int], build: Callable[[Row], dict[str, Any] | None]
) -> list[tuple[int, dict[str, Any]]]:
    """Each row's resource with the row's id (rows that make none are skipped)."""
    out = []
    for row in rows:
        built = build(row)
        if built is not None:
            out.append((key(row), built))
    return out


def _checkin_kind(
    asked: _Criteria,
    *,
    resource: str,
    build: Callable[[Phq9Checkin], dict[str, Any] | None],
    asrm_only: bool = False,
) -> Fetch:
    """The searched check-ins as one kind of a paged search, each built as `build` makes it."""

    def run(after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = searches.search_checkins(
            db(),
            viewer=the_user(),
            patient_id=asked.patient_id,
            when=asked.when,
            after_id=after,
            limit=limit,
            now=asked.now,
            resource=resource,
            asrm_only=asrm_only,
        )
        return _built(rows, lambda r: r.id, build)

    return run


def _vitals_kind(asked: _Criteria, *, heart: bool) -> Fetch:
    """The searched vitals as one kind: heart rates when `heart`, else blood pressures."""

    def run(after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = searches.search_vitals(
            db(),
            viewer=the_user(),
            patient_id=asked.patient_id,
            when=asked.when,
            heart_rate=heart,
            after_id=after,
            limit=limit,
            now=asked.now,
        )
        build = vitals.heart_rate if heart else vitals.blood_pressure
        return _built(rows, lambda v: v.reading.id, build)

    return run


def _patient_paged(
    asked: _Criteria, kinds: Sequence[tuple[int, Fetch]], page: search.Page
) -> Response:
    """One page over the kinds; a foreign patient is still a 404 when no kind was wanted."""
    if asked.patient_id is not None and not kinds:
        reads.read_patient(db(), viewer=the_user(), patient_id=asked.patient_id, now=asked.now)
    return _paged(kinds, page)


@bp.get("/QuestionnaireResponse")
@require(Role.CLINICIAN)
def questionnaire_responses() -> Response:
    page, asked = _criteria(("patient", "questionnaire", "authored"), "authored")
    questionnaires = request.args.getlist("questionnaire")

    def wanted(canonical: str, qid: str) -> bool:
        return not questionnaires or any(
            q in (canonical, f"Questionnaire/{qid}") for q in questionnaires
        )

    resource = "QuestionnaireResponse"
    kinds: list[tuple[int, Fetch]] = []
    if wanted(vocabulary.PHQ9_QUESTIONNAIRE, "phq-9"):
        kinds.append((0, _checkin_kind(asked, resource=resource, build=checkins.phq9_response)))
    if wanted(vocabulary.ASRM_QUESTIONNAIRE, "asrm"):
        build = checkins.asrm_response
        kinds.append((1, _checkin_kind(asked, resource=resource, build=build, asrm_only=True)))
    return _patient_paged(asked, kinds, page)


@bp.get("/QuestionnaireResponse/<rid>")
@require(Role.CLINICIAN)
def questionnaire_response(rid: str) -> Response:
    search.check_names(request.args, ())
    for prefix in ("phq9", "asrm"):
        number = search.resource_id(rid, prefix=prefix)
        if number is None:
            continue
        row = reads.read_checkin(
            db(),
            viewer=the_user(),
            checkin_id=number,
            now=clock_now(),
            resource="QuestionnaireResponse",
        )
        built = checkins.phq9_response(row) if prefix == "phq9" else checkins.asrm_response(row)
        if built is not None:
            return fhir_response(built)
    raise NotFound("No such QuestionnaireResponse.")


@bp.get("/Observation")
@require(Role.CLINICIAN)
def observations() -> Response:
    page, asked = _criteria(("patient", "code", "date"), "date")
    codes = search.codes(request.args)
    all_kinds: list[tuple[str, int, Fetch]] = [
        (
            vocabulary.PHQ9_TOTAL,
            0,
            _checkin_kind(asked, resource="Observation", build=checkins.phq9_total),
        ),
        (vocabulary.BP_PANEL, 1, _vitals_kind(asked, heart=False)),
        (vocabulary.HEART_RATE, 2, _vitals_kind(asked, heart=True)),
    ]
    kinds = [(k, f) for code, k, f in all_kinds if codes is None or code in codes]
    return _patient_paged(asked, kinds, page)


@bp.get("/Observation/<oid>")
@require(Role.CLINICIAN)
def observation(oid: str) -> Response:
    search.check_names(request.args, ())
    user, now = the_user(), clock_now()
    number = search.resource_id(oid, prefix="phq9")
    if number is not None:
        row = reads.read_checkin(
            db(), viewer=user, checkin_id=number, now=now, resource="Observation"
        )
        return fhir_response(checkins.phq9_total(row))
    for prefix in ("bp", "hr"):
        number = search.resource_id(oid, prefix=prefix)
        if number is None:
            continue
        v = reads.read_vitals(db(), viewer=user, reading_id=number, now=now)
        built = vitals.blood_pressure(v) if prefix == "bp" else vitals.heart_rate(v)
        if built is not None:
            return fhir_response(built)
    raise NotFound("No such Observation.")


@bp.get("/<path:rest>")
def unknown(rest: str) -> Response:
    """Any other resource type or path: 400, as FHIR servers answer an unsupported type."""
    kind = rest.split("/", 1)[0].split("?", 1)[0]
    return outcome(400, f"Resource type or operation not supported here: {kind[:64]}.")


def _as_operation_outcome(response: Response) -> Response:
    """Problem documents under /fhir/ become OperationOutcomes with the same status."""
    if not request.path.startswith(PREFIX) or response.mimetype != PROBLEM_JSON:
        return response
    try:
        detail = str(json.loads(response.get_data(as_text=True)).get("detail", ""))
    except ValueError:
        detail = ""
    converted = outcome(response.status_code, detail or "Request failed.")
    for name, value in response.headers.items():
        if name.lower() not in {"content-type", "content-length"}:
            converted.headers[name] = value
    return converted


def register(app: Flask) -> None:
    """Mount /fhir/R4 and answer its errors as OperationOutcomes."""
    app.register_blueprint(bp)
    app.after_request(_as_operation_outcome)
