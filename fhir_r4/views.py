"""The FHIR R4 read API under /fhir/R4: a thin door over services.fhir.

Each view reads its parameters strictly (fhir_r4.search), calls service functions (which
scope to the clinician's clinic and audit), builds resources (fhir_r4.resources) and answers
them as application/fhir+json after fhir.resources has validated them. Every error under
/fhir/ leaves as an OperationOutcome with the status the API would give.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, request

from api.errors import PROBLEM_JSON
from api.extensions import db, runtime
from api.security import require, the_user
from fhir_r4 import resources as fr
from fhir_r4 import search
from services import fhir as svc
from services.errors import NotFound
from store.database import Database

bp = Blueprint("fhir", __name__, url_prefix="/fhir/R4")
PREFIX = "/fhir/"
NDJSON_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
CHUNK = 64 * 1024

# One kind of row in a paged search: fetch(after_id, limit) -> [(row id, resource)].
Fetch = Callable[[int, int], list[tuple[int, dict[str, Any]]]]


def base_url() -> str:
    return request.url_root.rstrip("/") + "/fhir/R4"


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    """The resource, validated by fhir.resources, as application/fhir+json."""
    body = fr.validated(resource)
    return Response(json.dumps(body), status=status, mimetype=fr.FHIR_JSON)


def outcome(status: int, detail: str) -> Response:
    body = fr.validated(fr.operation_outcome(status, detail))
    return Response(json.dumps(body), status=status, mimetype=fr.FHIR_JSON)


@bp.errorhandler(search.SearchError)
def _bad_search(error: search.SearchError) -> Response:
    return outcome(error.status, error.detail)


def _now() -> Any:
    return runtime().clock.now()


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
    return fhir_response(fr.searchset(base_url(), found, self_url=self_url, next_url=next_url))


# --- capabilities and questionnaires ----------------------------------------------------------


@bp.get("/metadata")
def metadata() -> Response:
    """CapabilityStatement (public, as FHIR clients expect to read it before logging in)."""
    search.check_names(request.args, ())
    return fhir_response(fr.capability_statement(base_url(), now=_now()))


@bp.get("/Questionnaire")
@require("clinician")
def questionnaires() -> Response:
    search.check_names(request.args, ("_id", "url"))
    wanted_id, wanted_url = request.args.get("_id"), request.args.get("url")
    found = [
        q()
        for qid, q in fr.QUESTIONNAIRES.items()
        if (wanted_id is None or wanted_id == qid)
        and (wanted_url is None or wanted_url == q()["url"])
    ]
    return fhir_response(fr.searchset(base_url(), found, self_url=request.url, next_url=None))


@bp.get("/Questionnaire/<qid>")
@require("clinician")
def questionnaire(qid: str) -> Response:
    search.check_names(request.args, ())
    build = fr.QUESTIONNAIRES.get(qid)
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
@require("clinician")
def patients() -> Response:
    search.check_names(request.args, ("_id",))
    page = search.page(request.args)
    user, now = the_user(), _now()
    wanted = request.args.get("_id")
    if wanted is not None:
        pid = search.resource_id(wanted)
        if pid is None:
            raise search.SearchError("_id must be a patient id.")
        try:
            found = [fr.patient(svc.read_patient(db(), viewer=user, patient_id=pid, now=now))]
        except NotFound:
            found = []
        return fhir_response(fr.searchset(base_url(), found, self_url=request.url, next_url=None))

    def fetch(after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = svc.list_patients(db(), viewer=user, after_id=after, limit=limit, now=now)
        return [(p.user_id, fr.patient(p)) for p in rows]

    return _paged([(0, fetch)], page)


@bp.get("/Patient/<pid>")
@require("clinician")
def patient(pid: str) -> Response:
    search.check_names(request.args, ())
    profile = svc.read_patient(db(), viewer=the_user(), patient_id=_patient_id(pid), now=_now())
    return fhir_response(fr.patient(profile))


@bp.get("/Patient/<pid>/$everything")
@require("clinician")
def everything(pid: str) -> Response:
    """The patient, every QuestionnaireResponse and every Observation, as one searchset."""
    search.check_names(request.args, ())
    record = svc.everything(db(), viewer=the_user(), patient_id=_patient_id(pid), now=_now())
    found: list[dict[str, Any]] = [fr.patient(record.patient)]
    for row in record.checkins:
        found.extend(fr.responses(row))
    found.extend(fr.phq9_total(row) for row in record.checkins)
    for v in record.vitals:
        found.extend(fr.vitals_observations(v))
    return fhir_response(
        fr.searchset(base_url(), found, self_url=request.url, next_url=None, total=len(found))
    )


# --- questionnaire responses and observations ---------------------------------------------------


@bp.get("/QuestionnaireResponse")
@require("clinician")
def questionnaire_responses() -> Response:
    search.check_names(request.args, ("patient", "questionnaire", "authored"))
    page = search.page(request.args)
    pid = search.patient(request.args)
    when = search.dates(request.args, "authored")
    asked = request.args.getlist("questionnaire")
    user, now = the_user(), _now()

    def wanted(canonical: str, qid: str) -> bool:
        return not asked or any(a in (canonical, f"Questionnaire/{qid}") for a in asked)

    def fetch(asrm_only: bool) -> Fetch:
        def run(after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
            rows = svc.search_checkins(
                db(),
                viewer=user,
                patient_id=pid,
                when=when,
                after_id=after,
                limit=limit,
                now=now,
                resource="QuestionnaireResponse",
                asrm_only=asrm_only,
            )
            built = [
                (r.id, fr.asrm_response(r) if asrm_only else fr.phq9_response(r)) for r in rows
            ]
            return [(i, r) for i, r in built if r is not None]

        return run

    kinds: list[tuple[int, Fetch]] = []
    if wanted(fr.PHQ9_QUESTIONNAIRE, "phq-9"):
        kinds.append((0, fetch(False)))
    if wanted(fr.ASRM_QUESTIONNAIRE, "asrm"):
        kinds.append((1, fetch(True)))
    if pid is not None and not kinds:
        svc.read_patient(db(), viewer=user, patient_id=pid, now=now)  # still 404 if foreign
    return _paged(kinds, page)


@bp.get("/QuestionnaireResponse/<rid>")
@require("clinician")
def questionnaire_response(rid: str) -> Response:
    search.check_names(request.args, ())
    for prefix in ("phq9", "asrm"):
        number = search.resource_id(rid, prefix=prefix)
        if number is None:
            continue
        row = svc.read_checkin(
            db(), viewer=the_user(), checkin_id=number, now=_now(), resource="QuestionnaireResponse"
        )
        built = fr.phq9_response(row) if prefix == "phq9" else fr.asrm_response(row)
        if built is not None:
            return fhir_response(built)
    raise NotFound("No such QuestionnaireResponse.")


@bp.get("/Observation")
@require("clinician")
def observations() -> Response:
    search.check_names(request.args, ("patient", "code", "date"))
    page = search.page(request.args)
    pid = search.patient(request.args)
    when = search.dates(request.args, "date")
    asked = search.codes(request.args)
    user, now = the_user(), _now()

    def totals(after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = svc.search_checkins(
            db(),
            viewer=user,
            patient_id=pid,
            when=when,
            after_id=after,
            limit=limit,
            now=now,
            resource="Observation",
        )
        return [(r.id, fr.phq9_total(r)) for r in rows]

    def vitals(heart: bool) -> Fetch:
        def run(after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
            rows = svc.search_vitals(
                db(),
                viewer=user,
                patient_id=pid,
                when=when,
                heart_rate=heart,
                after_id=after,
                limit=limit,
                now=now,
            )
            out = []
            for v in rows:
                built = fr.heart_rate(v) if heart else fr.blood_pressure(v)
                if built is not None:
                    out.append((v.reading.id, built))
            return out

        return run

    all_kinds: list[tuple[str, int, Fetch]] = [
        (fr.PHQ9_TOTAL, 0, totals),
        (fr.BP_PANEL, 1, vitals(False)),
        (fr.HEART_RATE, 2, vitals(True)),
    ]
    kinds = [(k, f) for code, k, f in all_kinds if asked is None or code in asked]
    if pid is not None and not kinds:
        svc.read_patient(db(), viewer=user, patient_id=pid, now=now)  # still 404 if foreign
    return _paged(kinds, page)


@bp.get("/Observation/<oid>")
@require("clinician")
def observation(oid: str) -> Response:
    search.check_names(request.args, ())
    user, now = the_user(), _now()
    number = search.resource_id(oid, prefix="phq9")
    if number is not None:
        row = svc.read_checkin(
            db(), viewer=user, checkin_id=number, now=now, resource="Observation"
        )
        return fhir_response(fr.phq9_total(row))
    for prefix in ("bp", "hr"):
        number = search.resource_id(oid, prefix=prefix)
        if number is None:
            continue
        v = svc.read_vitals(db(), viewer=user, reading_id=number, now=now)
        built = fr.blood_pressure(v) if prefix == "bp" else fr.heart_rate(v)
        if built is not None:
            return fhir_response(built)
    raise NotFound("No such Observation.")


# --- Bulk Data $export --------------------------------------------------------------------------


@bp.get("/$export")
@require("clinician")
def export_kickoff() -> Response:
    """Bulk Data kick-off: 202 with the status URL in Content-Location."""
    allowed = {"_type", "_since", "_outputFormat"}
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise search.SearchError(f"Unknown $export parameter: {', '.join(unknown)}.")
    if "respond-async" not in request.headers.get("Prefer", ""):
        raise search.SearchError("$export needs the header Prefer: respond-async.")
    output_format = request.args.get("_outputFormat")
    if output_format is not None and output_format not in NDJSON_FORMATS:
        raise search.SearchError("_outputFormat: only application/fhir+ndjson is written.")
    types = search.types(request.args.get("_type"), svc.EXPORT_TYPES)
    since = search.instant(request.args.get("_since"), "_since")
    job = svc.start_export(
        db(), viewer=the_user(), types=types, since=since, request_url=request.url, now=_now()
    )
    response = Response(status=202)
    response.headers["Content-Location"] = f"{base_url()}/$export-status/{job.id}"
    return response


@bp.route("/$export-status/<job_id>", methods=["GET", "DELETE"])
@require("clinician")
def export_status(job_id: str) -> Response:
    """The manifest (the files stream from the database when fetched); DELETE cancels."""
    user, now = the_user(), _now()
    if request.method == "DELETE":
        svc.cancel_export(db(), viewer=user, job_id=job_id, now=now)
        return Response(status=202)
    job = svc.export_job(db(), viewer=user, job_id=job_id, now=now)
    manifest = {
        "transactionTime": fr.instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": t, "url": f"{base_url()}/$export-file/{job.id}/{t}.ndjson"} for t in job.types
        ],
        "error": [],
    }
    response = Response(json.dumps(manifest), status=200, mimetype="application/json")
    response.headers["Expires"] = (job.transaction_time + svc.EXPORT_TTL).strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    return response


def _ndjson_lines(database: Database, scope: svc.JobScope, resource: str) -> Iterator[str]:
    if resource == "Patient":
        for profile in svc.stream_patients(database, scope):
            yield json.dumps(fr.patient(profile), separators=(",", ":"))
    elif resource == "QuestionnaireResponse":
        for row in svc.stream_checkins(database, scope):
            for built in fr.responses(row):
                yield json.dumps(built, separators=(",", ":"))
    else:
        for row in svc.stream_checkins(database, scope):
            yield json.dumps(fr.phq9_total(row), separators=(",", ":"))
        for v in svc.stream_vitals(database, scope):
            for built in fr.vitals_observations(v):
                yield json.dumps(built, separators=(",", ":"))


def _chunks(lines: Iterator[str]) -> Iterator[bytes]:
    """Lines gathered into ~64 KB writes: constant memory whatever the export's size."""
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line) + 1
        if size >= CHUNK:
            yield ("\n".join(buffer) + "\n").encode()
            buffer, size = [], 0
    if buffer:
        yield ("\n".join(buffer) + "\n").encode()


@bp.get("/$export-file/<job_id>/<resource>.ndjson")
@require("clinician")
def export_file(job_id: str, resource: str) -> Response:
    """One NDJSON file, streamed from the database in batches (the same builders as the API;
    the suite validates every line with fhir.resources)."""
    job = svc.open_export_file(
        db(), viewer=the_user(), job_id=job_id, resource=resource, now=_now()
    )
    scope = svc.job_scope(job)
    database = runtime().database
    return Response(_chunks(_ndjson_lines(database, scope, resource)), mimetype=fr.NDJSON)


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
