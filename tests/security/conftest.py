"""The injection suite shares the fuzzing suite's module-scoped live API."""

from tests.fuzz.conftest import live_api  # noqa: F401
