"""`.env.example` names every setting Tandem reads, and the README's table does too."""

from __future__ import annotations

import re
from pathlib import Path

from config import load_settings
from config.settings import LOG_LEVELS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"
# Names that config/settings.py mentions as strings and that are not variables.
NOT_VARIABLES = set(LOG_LEVELS)


def _variables_read_by_settings() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'"([A-Z][A-Z0-9_]{3,})"', source)) - NOT_VARIABLES


def _example_lines() -> dict[str, str]:
    found = {}
    for line in EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_the_example_names_every_variable_the_settings_read() -> None:
    missing = _variables_read_by_settings() - set(_example_lines())
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_the_readme_table_names_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = {name for name in _variables_read_by_settings() if f"`{name}`" not in readme}
    assert not missing, f"README lacks {sorted(missing)}"


def test_the_example_uncommented_is_a_valid_configuration(tmp_path: Path) -> None:
    env = {name: value for name, value in _example_lines().items() if value}
    env["TANDEM_INSTANCE_PATH"] = str(tmp_path / "instance")
    env.pop("DATABASE_URL", None)  # the example's PostgreSQL is not running here
    settings = load_settings(env, dotenv_path=None)
    assert settings.sms_backend == "log"
    assert settings.database_url.startswith("sqlite:///")


def test_the_example_holds_no_secret_value() -> None:
    for name, value in _example_lines().items():
        if name.endswith(("SECRET_KEY", "AUTH_TOKEN", "PASSWORD", "_SECRET", "_TOKEN")):
            assert value == "", f"{name} has a value in .env.example"
