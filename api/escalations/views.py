"""The escalation inbox: list, read, acknowledge, resolve, reassign (clinicians)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from api.escalations.schemas import (
    EscalationDetailOut,
    EscalationPage,
    EscalationQuery,
    ReassignIn,
    ResolveIn,
)
from api.extensions import db, runtime
from api.security import require, the_user
from services import escalations, oncall
from services.escalations import EscalationDetail
from store.escalations import Escalation
from store.models import User

blp = Blueprint(
    "escalations",
    __name__,
    url_prefix="/api/v1/escalations",
    description="The escalation inbox (clinicians of the escalation's clinic).",
)


def on_call_now_out(viewer: User) -> dict[str, Any]:
    """Who the viewer's clinic has on call now, per tier (empty without a schedule)."""
    now = runtime().clock.now()
    assert viewer.clinic_id is not None
    return {"at": now, "tiers": oncall.on_call_at(db(), clinic_id=viewer.clinic_id, at=now)}


def escalation_out(escalation: Escalation, *, unpageable: bool = False) -> dict[str, Any]:
    return {
        "id": escalation.id,
        "patient_id": escalation.patient_id,
        "kind": escalation.kind,
        "priority": escalation.priority,
        "status": escalation.status,
        "tier": escalation.tier,
        "cycle": escalation.cycle,
        "paging_exhausted": escalation.paging_exhausted,
        "unacknowledged": escalation.status == "open",
        "next_page_at": escalation.next_page_at,
        "assigned_to": escalation.assigned_to,
        "created_at": escalation.created_at,
        "updated_at": escalation.updated_at,
        "acknowledged_at": escalation.acknowledged_at,
        "acknowledged_by": escalation.acknowledged_by,
        "resolved_at": escalation.resolved_at,
        "resolved_by": escalation.resolved_by,
        "resolution_note": escalation.resolution_note,
        "unpageable": unpageable,
    }


def detail_out(detail: EscalationDetail) -> dict[str, Any]:
    return {
        **escalation_out(detail.escalation, unpageable=detail.unpageable),
        "evidence": [
            {
                "id": e.id,
                "source_type": e.source_type,
                "source_id": e.source_id,
                "rule": e.rule,
                "rule_version": e.rule_version,
                "priority": e.priority,
                "detail": e.detail,
                "at": e.at,
            }
            for e in detail.evidence
        ],
        "notifications": [
            {
                "id": m.id,
                "purpose": m.purpose,
                "recipient_id": m.recipient_id,
                "tier": m.escalation_tier,
                "status": m.status,
                "delivery_status": m.delivery_status,
                "twilio_sid": m.twilio_sid,
                "attempts": m.attempts,
                "error_code": m.error_code,
                "created_at": m.created_at,
                "sent_at": m.sent_at,
                "channel": m.channel,
            }
            for m in detail.notifications
        ],
        "timeline": [
            {"id": e.id, "at": e.at, "event": e.event, "actor_id": e.actor_id, "detail": e.detail}
            for e in detail.timeline
        ],
        "unreachable_clinicians": detail.unreachable_clinicians,
    }


@blp.route("")
class Escalations(MethodView):
    @require("clinician")
    @blp.arguments(EscalationQuery, location="query")
    @blp.response(200, EscalationPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Your clinic's escalations: unacknowledged first (those nobody can be paged for at
        the very top, `unpageable`), then urgent first, then oldest first."""
        page = escalations.list_escalations(
            db(),
            viewer=the_user(),
            now=runtime().clock.now(),
            limit=query["limit"],
            cursor=query["cursor"],
            status=query["status"],
            priority=query["priority"],
            kind=query["kind"],
            patient_id=query["patient_id"],
        )
        stranded = escalations.unpageable_ids(db(), [e.id for e in page.items])
        # Issue 13: the inbox shows who the clinic's schedule has on call right now.
        return {
            "items": [escalation_out(e, unpageable=e.id in stranded) for e in page.items],
            "next_cursor": page.next_cursor,
            "on_call": on_call_now_out(the_user()),
        }


@blp.route("/<int:escalation_id>")
class EscalationById(MethodView):
    @require("clinician")
    @blp.response(200, EscalationDetailOut)
    def get(self, escalation_id: int) -> dict[str, Any]:
        """One escalation with its evidence, every notification and its timeline."""
        return detail_out(
            escalations.get_escalation(
                db(), viewer=the_user(), escalation_id=escalation_id, now=runtime().clock.now()
            )
        )


@blp.route("/<int:escalation_id>/acknowledge")
class Acknowledge(MethodView):
    @require("clinician")
    @blp.response(200, EscalationDetailOut)
    @blp.alt_response(409, description="The escalation is already resolved.")
    def post(self, escalation_id: int) -> dict[str, Any]:
        """Acknowledge: paging stops. Acknowledging again changes nothing."""
        return detail_out(
            escalations.acknowledge(
                db(), viewer=the_user(), escalation_id=escalation_id, now=runtime().clock.now()
            )
        )


@blp.route("/<int:escalation_id>/resolve")
class Resolve(MethodView):
    @require("clinician")
    @blp.arguments(ResolveIn)
    @blp.response(200, EscalationDetailOut)
    @blp.alt_response(409, description="The escalation is already resolved.")
    def post(self, data: dict[str, Any], escalation_id: int) -> dict[str, Any]:
        """Resolve with a note of what was done."""
        return detail_out(
            escalations.resolve(
                db(),
                viewer=the_user(),
                escalation_id=escalation_id,
                note=data["note"],
                now=runtime().clock.now(),
            )
        )


@blp.route("/<int:escalation_id>/reassign")
class Reassign(MethodView):
    @require("clinician")
    @blp.arguments(ReassignIn)
    @blp.response(200, EscalationDetailOut)
    @blp.alt_response(
        409,
        description="The escalation is already resolved, or it is paged (urgent or high) "
        "and the clinician cannot be texted (opted out of SMS, or no phone); the detail "
        "says which.",
    )
    def post(self, data: dict[str, Any], escalation_id: int) -> dict[str, Any]:
        """Hand the escalation to another clinician of your clinic, who is texted about it.

        An urgent or high escalation can only go to a clinician a text can reach."""
        return detail_out(
            escalations.reassign(
                db(),
                viewer=the_user(),
                escalation_id=escalation_id,
                clinician_id=data["clinician_id"],
                now=runtime().clock.now(),
            )
        )
