"""Fixtures of the WebDAV tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with small cost parameters (in-process apps only)."""
    from argon2 import PasswordHasher

    from cordvault.drive import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
