"""The escalation inbox: list, read, acknowledge, resolve, reassign (clinicians)."""

from __future__ import annotations

from dataclasses import dataclass
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
from store.models import Role

blp = Blueprint(
    "escalations",
    __name__,
    url_prefix="/api/v1/escalations",
    description="The escalation inbox (clinicians of the escalation's clinic).",
)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """An escalation in the inbox, and whether anybody on its chain can be texted now."""

    escalation: Escalation
    unpageable: bool


@blp.route("")
class Escalations(MethodView):
    @require(Role.CLINICIAN)
    @blp.arguments(EscalationQuery, location="query")
    @blp.response(200, EscalationPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Your clinic's escalations: unacknowledged first (those nobody can be paged for at
        the very top, `unpageable`), then urgent first, then oldest first."""
        viewer, now = the_user(), runtime().clock.now()
        page = escalations.list_escalations(
            db(),
            viewer=viewer,
            now=now,
            limit=query["limit"],
            cursor=query["cursor"],
            status=query["status"],
            priority=query["priority"],
            kind=query["kind"],
            patient_id=query["patient_id"],
        )
        stranded = escalations.unpageable_ids(db(), [e.id for e in page.items])
        assert viewer.clinic_id is not None
        # Issue 13: the inbox shows who the clinic's schedule has on call right now.
        return {
            "items": [InboxEntry(e, unpageable=e.id in stranded) for e in page.items],
            "next_cursor": page.next_cursor,
            "on_call": {
                "at": now,
                "tiers": oncall.on_call_at(db(), clinic_id=viewer.clinic_id, at=now),
            },
        }


@blp.route("/<int:escalation_id>")
class EscalationById(MethodView):
    @require(Role.CLINICIAN)
    @blp.response(200, EscalationDetailOut)
    def get(self, escalation_id: int) -> EscalationDetail:
        """One escalation with its evidence, every notification and its timeline."""
        return escalations.get_escalation(
            db(), viewer=the_user(), escalation_id=escalation_id, now=runtime().clock.now()
        )


@blp.route("/<int:escalation_id>/acknowledge")
class Acknowledge(MethodView):
    @require(Role.CLINICIAN)
    @blp.response(200, EscalationDetailOut)
    @blp.alt_response(409, description="The escalation is already resolved.")
    def post(self, escalation_id: int) -> EscalationDetail:
        """Acknowledge: paging stops. Acknowledging again changes nothing."""
        return escalations.acknowledge(
            db(), viewer=the_user(), escalation_id=escalation_id, now=runtime().clock.now()
        )


@blp.route("/<int:escalation_id>/resolve")
class Resolve(MethodView):
    @require(Role.CLINICIAN)
    @blp.arguments(ResolveIn)
    @blp.response(200, EscalationDetailOut)
    @blp.alt_response(409, description="The escalation is already resolved.")
    def post(self, data: dict[str, Any], escalation_id: int) -> EscalationDetail:
        """Resolve with a note of what was done."""
        return escalations.resolve(
            db(),
            viewer=the_user(),
            escalation_id=escalation_id,
            note=data["note"],
            now=runtime().clock.now(),
        )


@blp.route("/<int:escalation_id>/reassign")
class Reassign(MethodView):
    @require(Role.CLINICIAN)
    @blp.arguments(ReassignIn)
    @blp.response(200, EscalationDetailOut)
    @blp.alt_response(
        409,
        description="The escalation is already resolved, or it is paged (urgent or high) "
        "and the clinician cannot be texted (opted out of SMS, or no phone); the detail "
        "says which.",
    )
    def post(self, data: dict[str, Any], escalation_id: int) -> EscalationDetail:
        """Hand the escalation to another clinician of your clinic, who is texted about it.

        An urgent or high escalation can only go to a clinician a text can reach."""
        return escalations.reassign(
            db(),
            viewer=the_user(),
            escalation_id=escalation_id,
            clinician_id=data["clinician_id"],
            now=runtime().clock.now(),
        )
