"""Bulk Data $export: the kick-off, the status URL (manifest, DELETE cancels) and the NDJSON
files, streamed from the database in batches."""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Response, request

from api.extensions import db, runtime
from api.security import require, the_user
from fhir_r4 import search
from fhir_r4.blueprint import base_url, bp, clock_now
from fhir_r4.resources import checkins, datatypes, demographics, vitals, vocabulary
from services.fhir import bulk
from store.database import Database
from store.models import Role

NDJSON_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
CHUNK = 64 * 1024


@bp.get("/$export")
@require(Role.CLINICIAN)
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
    types = search.types(request.args.get("_type"), bulk.EXPORT_TYPES)
    since = search.instant(request.args.get("_since"), "_since")
    job = bulk.start_export(
        db(), viewer=the_user(), types=types, since=since, request_url=request.url, now=clock_now()
    )
    response = Response(status=202)
    response.headers["Content-Location"] = f"{base_url()}/$export-status/{job.id}"
    return response


@bp.route("/$export-status/<job_id>", methods=["GET", "DELETE"])
@require(Role.CLINICIAN)
def export_status(job_id: str) -> Response:
    """The manifest (the files stream from the database when fetched); DELETE cancels."""
    user, now = the_user(), clock_now()
    if request.method == "DELETE":
        bulk.cancel_export(db(), viewer=user, job_id=job_id, now=now)
        return Response(status=202)
    job = bulk.export_job(db(), viewer=user, job_id=job_id, now=now)
    manifest = {
        "transactionTime": datatypes.instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": t, "url": f"{base_url()}/$export-file/{job.id}/{t}.ndjson"} for t in job.types
        ],
        "error": [],
    }
    response = Response(json.dumps(manifest), status=200, mimetype="application/json")
    response.headers["Expires"] = (job.transaction_time + bulk.EXPORT_TTL).strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    return response


def _ndjson_lines(database: Database, scope: bulk.JobScope, resource: str) -> Iterator[str]:
    if resource == "Patient":
        for profile in bulk.stream_patients(database, scope):
            yield json.dumps(demographics.patient(profile), separators=(",", ":"))
    elif resource == "QuestionnaireResponse":
        for row in bulk.stream_checkins(database, scope):
            for built in checkins.responses(row):
                yield json.dumps(built, separators=(",", ":"))
    else:
        for row in bulk.stream_checkins(database, scope):
            yield json.dumps(checkins.phq9_total(row), separators=(",", ":"))
        for v in bulk.stream_vitals(database, scope):
            for built in vitals.vitals_observations(v):
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
@require(Role.CLINICIAN)
def export_file(job_id: str, resource: str) -> Response:
    """One NDJSON file, streamed from the database in batches (the same builders as the API;
    the suite validates every line with fhir.resources)."""
    job = bulk.open_export_file(
        db(), viewer=the_user(), job_id=job_id, resource=resource, now=clock_now()
    )
    scope = bulk.job_scope(job)
    database = runtime().database
    return Response(_chunks(_ndjson_lines(database, scope, resource)), mimetype=vocabulary.NDJSON)
