"""Shared by the access tests: a cheap Argon2 hasher, so each test does not spend 64 MiB and 0.3 s per hash."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from evidence.access import passwords

# What the module ships with, taken before any test swaps it out.
SHIPPED_HASHER = passwords.HASHER
PASSWORD = "correct horse battery staple"


class CountingHasher(PasswordHasher):
    """Argon2id at its lowest cost, counting verifications (equal work for every refusal)."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingHasher]:
    hasher = CountingHasher()
    monkeypatch.setattr(passwords, "HASHER", hasher)
    yield hasher
