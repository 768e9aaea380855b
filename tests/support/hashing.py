"""The tests' cheap password hasher, handed to every runtime the tests build."""

from __future__ import annotations

from argon2 import PasswordHasher

# argon2id at its cheapest: thousands of logins in the suite stay fast; hashes stay real.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
