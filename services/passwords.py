"""Password and one-time-code hashing with argon2id."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the user is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("tandem-timing-equaliser")


def use_hasher(hasher: PasswordHasher) -> None:
    """Hash and verify with ``hasher`` from now on (the runtime's, e.g. cheap in the tests).

    Hashes made with other argon2 parameters stay verifiable: they carry their own.
    """
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = _hasher.hash("tandem-timing-equaliser")


PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches; a missing hash still costs one verification."""
    try:
        return _hasher.verify(secret_hash or _DUMMY_HASH, secret) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str) -> list[str]:
    """What is wrong with a new password (empty when acceptable)."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"Must be at least {PASSWORD_MIN_LENGTH} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"Must be at most {PASSWORD_MAX_LENGTH} characters.")
    if password.strip() != password or not password.strip():
        problems.append("Must not start or end with spaces.")
    return problems
