"""GET /api/v1/audit: the audit trail, for an admin; JSON pages or a CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, json, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.audit.schemas import AuditEventOut, AuditPage, AuditQuery
from api.extensions import db
from api.security import require, the_user
from services import audit
from store.models import Role

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="The audit trail (admin).")

CSV = "text/csv"
CSV_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_role",
    "action",
    "patient_id",
    "target",
    "target_type",
    "target_id",
    "clinic_id",
    "detail",
)
# One export answers at most this many rows; X-Next-Cursor continues from there.
EXPORT_MAX_ROWS = 10_000
EXPORT_PAGE = 200
EVENT = AuditEventOut()


def _wants_csv() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", CSV])
    return (
        best == CSV and request.accept_mimetypes[CSV] > request.accept_mimetypes["application/json"]
    )


def _csv(filters: audit.AuditFilter, cursor: str | None) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    written = 0
    while written < EXPORT_MAX_ROWS:
        page = audit.list_events(
            db(), viewer=the_user(), filters=filters, limit=EXPORT_PAGE, cursor=cursor
        )
        for event in page.items:
            row = EVENT.dump(event)
            row["detail"] = json.dumps(row["detail"], sort_keys=True)
            # Cells are ids, roles, action names and JSON of ids: still, never let a
            # spreadsheet read one as a formula.
            writer.writerow(
                [
                    "'" + v if isinstance(v, str) and v[:1] in "=+-@" else v
                    for v in (row[c] for c in CSV_COLUMNS)
                ]
            )
        written += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    response = Response(out.getvalue(), status=200, mimetype=CSV)
    response.headers["Content-Disposition"] = 'attachment; filename="tandem-audit.csv"'
    if cursor is not None:
        response.headers["X-Next-Cursor"] = cursor
    return response


@blp.route("/audit")
class AuditTrail(MethodView):
    @require(Role.ADMIN)
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditPage)
    @blp.doc(
        responses={
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/AuditPage"}},
                    CSV: {
                        "schema": {
                            "type": "string",
                            "description": "With Accept: text/csv, the filtered trail as CSV "
                            f"(up to {EXPORT_MAX_ROWS} rows; X-Next-Cursor continues).",
                        }
                    },
                },
            }
        }
    )
    def get(self, query: dict[str, Any]) -> Any:
        """Who read or changed which patient's data, and every sign-in, newest first."""
        filters = audit.AuditFilter(
            patient_id=query["patient_id"], actor_id=query["actor_id"], since=query["since"]
        )
        if _wants_csv():
            return _csv(filters, query["cursor"])
        return audit.list_events(
            db(), viewer=the_user(), filters=filters, limit=query["limit"], cursor=query["cursor"]
        )
