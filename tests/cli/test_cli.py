"""The ``tandem`` operations command: in-process through the runner, and as a real process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from flask.testing import FlaskCliRunner
from sqlalchemy import inspect, select

from api.app import create_app
from api.cli import cli
from config import load_settings
from services.passwords import verify_secret
from store import Database
from store.models import Clinic, PatientProfile, User

STRONG = "a long enough password"


def invoke(runner: FlaskCliRunner, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(cli, list(args), input=stdin)


def users(database: Database) -> list[User]:
    with database.session() as session:
        return list(session.scalars(select(User).order_by(User.id)))


def test_create_clinic_prints_its_id(runner: FlaskCliRunner, database: Database) -> None:
    result = invoke(runner, "create-clinic", "--name", "Clinic C", "--timezone", "America/Denver")
    assert result.exit_code == 0, result.output
    clinic_id = int(result.output.strip())
    with database.session() as session:
        clinic = session.get_one(Clinic, clinic_id)
        assert (clinic.name, clinic.timezone) == ("Clinic C", "America/Denver")


def test_create_clinic_refuses_an_unknown_time_zone(
    runner: FlaskCliRunner, database: Database
) -> None:
    result = invoke(runner, "create-clinic", "--name", "C", "--timezone", "Mars/Base")
    assert result.exit_code != 0 and "time zone" in result.output
    with database.session() as session:
        assert session.scalars(select(Clinic)).all() == []


def test_create_user_reads_the_password_from_stdin(
    runner: FlaskCliRunner, database: Database
) -> None:
    clinic_id = int(
        invoke(runner, "create-clinic", "--name", "C", "--timezone", "Europe/Berlin").output
    )
    admin = invoke(
        runner,
        "create-user",
        "--role",
        "admin",
        "--email",
        "Root@Clinic.example",
        "--password-stdin",
        stdin=STRONG + "\n",
    )
    assert admin.exit_code == 0, admin.output
    clinician = invoke(
        runner,
        "create-user",
        "--role",
        "clinician",
        "--email",
        "doc@clinic.example",
        "--phone",
        "+1 202 555 0123",
        "--clinic",
        str(clinic_id),
        "--tier",
        "2",
        "--name",
        "Dr Doc",
        "--password-stdin",
        stdin=STRONG + "\n",
    )
    assert clinician.exit_code == 0, clinician.output
    assert STRONG not in admin.output + clinician.output
    created = {u.id: u for u in users(database)}
    root = created[int(admin.output.strip())]
    doc = created[int(clinician.output.strip())]
    assert (root.role, root.email, root.clinic_id) == ("admin", "root@clinic.example", None)
    assert (doc.role, doc.phone, doc.clinic_id, doc.on_call_tier, doc.name) == (
        "clinician",
        "+12025550123",
        clinic_id,
        2,
        "Dr Doc",
    )
    assert verify_secret(doc.password_hash, STRONG)
    assert root.password_hash and STRONG not in root.password_hash


def test_the_new_user_can_log_in(
    runner: FlaskCliRunner, client: object, database: Database
) -> None:
    from flask.testing import FlaskClient

    assert isinstance(client, FlaskClient)
    result = invoke(
        runner,
        "create-user",
        "--role",
        "admin",
        "--email",
        "ops@clinic.example",
        "--password-stdin",
        stdin=STRONG + "\n",
    )
    assert result.exit_code == 0
    response = client.post(
        "/api/v1/auth/login", json={"username": "ops@clinic.example", "password": STRONG}
    )
    assert response.status_code == 200 and response.get_json()["role"] == "admin"


@pytest.mark.parametrize("password", ["short", "", " padded password "])
def test_create_user_refuses_a_weak_password(
    runner: FlaskCliRunner, database: Database, password: str
) -> None:
    result = invoke(
        runner,
        "create-user",
        "--role",
        "admin",
        "--email",
        "a@clinic.example",
        "--password-stdin",
        stdin=password + "\n",
    )
    assert result.exit_code != 0
    assert "password" in result.output.lower()
    assert users(database) == []


def test_the_password_is_never_an_argument(runner: FlaskCliRunner, database: Database) -> None:
    help_text = invoke(runner, "create-user", "--help").output
    assert "--password-stdin" in help_text
    assert not re.search(r"--password(?!-stdin)", help_text)
    result = invoke(
        runner,
        "create-user",
        "--role",
        "admin",
        "--email",
        "a@clinic.example",
        "--password",
        STRONG,
    )
    assert result.exit_code != 0 and "No such option" in result.output
    assert users(database) == []


def test_create_user_refuses_bad_input(runner: FlaskCliRunner, database: Database) -> None:
    cases = [
        ("--role", "clinician", "--email", "c@clinic.example", "--password-stdin"),
        (
            "--role",
            "admin",
            "--email",
            "c@clinic.example",
            "--phone",
            "555-0123",
            "--password-stdin",
        ),
        ("--role", "patient", "--email", "c@clinic.example", "--password-stdin"),
        (
            "--role",
            "clinician",
            "--email",
            "c@clinic.example",
            "--phone",
            "+12025550123",
            "--clinic",
            "1",
            "--tier",
            "4",
            "--password-stdin",
        ),
    ]
    for args in cases:
        result = invoke(runner, "create-user", *args, stdin=STRONG + "\n")
        assert result.exit_code != 0, (args, result.output)
    assert users(database) == []


def test_create_user_refuses_a_taken_email(runner: FlaskCliRunner, database: Database) -> None:
    first = invoke(
        runner,
        "create-user",
        "--role",
        "admin",
        "--email",
        "a@clinic.example",
        "--password-stdin",
        stdin=STRONG + "\n",
    )
    assert first.exit_code == 0
    again = invoke(
        runner,
        "create-user",
        "--role",
        "admin",
        "--email",
        "A@clinic.example",
        "--password-stdin",
        stdin=STRONG + "\n",
    )
    assert again.exit_code == 1 and isinstance(again.exception, SystemExit)
    assert "already exists" in again.output
    unknown_clinic = invoke(
        runner,
        "create-user",
        "--role",
        "clinician",
        "--email",
        "c@clinic.example",
        "--phone",
        "+12025550123",
        "--clinic",
        "999",
        "--password-stdin",
        stdin=STRONG + "\n",
    )
    assert unknown_clinic.exit_code == 1 and isinstance(unknown_clinic.exception, SystemExit)
    assert "No such clinic" in unknown_clinic.output
    assert len(users(database)) == 1


def test_demo_prints_logins_and_is_idempotent(
    runner: FlaskCliRunner, database: Database, client: object
) -> None:
    from flask.testing import FlaskClient

    assert isinstance(client, FlaskClient)
    first = invoke(runner, "demo")
    assert first.exit_code == 0, first.output
    logins = re.findall(
        r"^\s+(admin|clinician \(tier \d\)|patient)\s+(\S+)\s+(\S+)$", first.output, re.MULTILINE
    )
    assert [role for role, _, _ in logins].count("patient") >= 2
    assert any(role == "admin" for role, _, _ in logins)
    for role, username, password in logins:
        response = client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, (role, username)
    with database.session() as session:
        counts = (
            len(session.scalars(select(User)).all()),
            len(session.scalars(select(PatientProfile)).all()),
        )

    second = invoke(runner, "demo")
    assert second.exit_code == 0
    assert "exists already" in second.output
    with database.session() as session:
        assert (
            len(session.scalars(select(User)).all()),
            len(session.scalars(select(PatientProfile)).all()),
        ) == counts


def test_db_upgrade_builds_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    settings = load_settings(
        {
            "TANDEM_ENV": "test",
            "DATABASE_URL": url,
            "TANDEM_INSTANCE_PATH": str(tmp_path / "instance"),
            "SCHEDULER_ENABLED": "false",
        },
        dotenv_path=None,
    )
    app = create_app(settings)
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "head" in result.output
    database = Database(url)
    try:
        tables = set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
        app.extensions["tandem"].database.dispose()
    assert {"users", "clinics", "patients", "sms_outbox", "alembic_version"} <= tables
    # Running it again is harmless.
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0


# --- the installed console script, as an operator runs it ------------------------------


def tandem(
    args: list[str], *, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "tandem"
    return subprocess.run(
        [str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_the_console_script(tmp_path: Path) -> None:
    database_file = tmp_path / "ops.sqlite3"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TANDEM_ENV": "development",
        "DATABASE_URL": f"sqlite:///{database_file}",
        "TANDEM_INSTANCE_PATH": str(tmp_path / "instance"),
        "SCHEDULER_ENABLED": "false",
    }
    upgraded = tandem(["db", "upgrade"], env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    clinic = tandem(
        ["create-clinic", "--name", "Ops Clinic", "--timezone", "America/New_York"],
        env=env,
        cwd=tmp_path,
    )
    assert clinic.returncode == 0, clinic.stderr
    clinic_id = clinic.stdout.strip().splitlines()[-1]
    assert clinic_id.isdigit()
    user = tandem(
        [
            "create-user",
            "--role",
            "clinician",
            "--email",
            "ops@clinic.example",
            "--phone",
            "+12025550124",
            "--clinic",
            clinic_id,
            "--tier",
            "1",
            "--password-stdin",
        ],
        env=env,
        cwd=tmp_path,
        stdin=STRONG + "\n",
    )
    assert user.returncode == 0, user.stderr
    assert user.stdout.strip().splitlines()[-1].isdigit()
    assert STRONG not in user.stdout + user.stderr
    weak = tandem(
        ["create-user", "--role", "admin", "--email", "weak@clinic.example", "--password-stdin"],
        env=env,
        cwd=tmp_path,
        stdin="weak\n",
    )
    assert weak.returncode != 0 and "password" in weak.stderr.lower()
    taken = tandem(
        ["create-user", "--role", "admin", "--email", "OPS@clinic.example", "--password-stdin"],
        env=env,
        cwd=tmp_path,
        stdin=STRONG + "\n",
    )
    assert taken.returncode == 1
    assert taken.stderr.strip() == "Error: A user with this e-mail already exists."

    database = Database(env["DATABASE_URL"])
    try:
        with database.session() as session:
            emails = session.scalars(select(User.email)).all()
    finally:
        database.dispose()
    assert emails == ["ops@clinic.example"]
    # Development keeps its generated secrets in the instance folder, owner-only.
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0


def test_the_console_script_reports_bad_configuration(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TANDEM_ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
    }
    result = tandem(["create-clinic", "--name", "X", "--timezone", "UTC"], env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("Error: configuration: production refuses")
    assert "SECRET_KEY" in result.stderr
