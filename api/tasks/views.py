"""The signed-in patient's open tasks."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import Blueprint

from api.extensions import db, runtime
from api.security import require, the_user
from api.tasks.schemas import TaskOut
from services import schedule
from store.schedule import Task

blp = Blueprint(
    "tasks",
    __name__,
    url_prefix="/api/v1/me",
    description="What the app should ask the patient now.",
)


def task_out(task: Task, tz: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": task.id,
        "kind": task.kind,
        "due_at": task.due_at.astimezone(tz),
        "expires_at": task.expires_at.astimezone(tz),
        "reason": task.reason,
    }
    if task.session_id is not None:
        out["session_id"] = task.session_id
    return out


@blp.route("/tasks")
class MyTasks(MethodView):
    @require("patient")
    @blp.response(200, TaskOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Open tasks due now, soonest first; answering one (with its task_id) closes it."""
        user = the_user()
        tasks = schedule.list_due_tasks(db(), patient_id=user.id, now=runtime().clock.now())
        tz = ZoneInfo(user.patient.timezone if user.patient else "UTC")
        return [task_out(t, tz) for t in tasks]
