"""The signed-in patient's open tasks."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import Blueprint

from api.extensions import db, runtime
from api.fields import show_times_in
from api.security import require, the_user
from api.tasks.schemas import TaskOut
from services import schedule
from store.models import Role
from store.schedule import Task

blp = Blueprint(
    "tasks",
    __name__,
    url_prefix="/api/v1/me",
    description="What the app should ask the patient now.",
)


@blp.route("/tasks")
class MyTasks(MethodView):
    @require(Role.PATIENT)
    @blp.response(200, TaskOut(many=True))
    def get(self) -> list[Task]:
        """Open tasks due now, soonest first; answering one (with its task_id) closes it."""
        user = the_user()
        tasks = schedule.list_due_tasks(db(), patient_id=user.id, now=runtime().clock.now())
        show_times_in(ZoneInfo(user.patient.timezone if user.patient else "UTC"))
        return tasks
