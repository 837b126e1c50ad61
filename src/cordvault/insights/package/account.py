"""The owner's account: ``user.json`` (profile, relationships, old payments) and
``payments.json`` (2025+). Naming and avatar rules: ``docs/insights-semantics.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from cordvault.core.errors import CordvaultError, ErrorCode


@dataclass(frozen=True)
class Person:
    """A Discord user as the package describes them."""

    id: str
    username: str
    discriminator: str | None
    global_name: str | None
    avatar_hash: str | None

    @property
    def is_legacy(self) -> bool:
        return self.discriminator not in (None, "", "0", "0000")

    @property
    def tag(self) -> str:
        """``username`` for new usernames, ``username#1234`` for legacy ones."""
        return f"{self.username}#{self.discriminator}" if self.is_legacy else self.username

    @property
    def avatar_url(self) -> str | None:
        return avatar_url(self.id, self.avatar_hash, self.discriminator)


@dataclass(frozen=True)
class Payment:
    """One payment record, as given."""

    id: str
    amount: int
    currency: str
    status: int
    created_at: str
    description: str


@dataclass
class Account:
    """Everything read from the Account section."""

    owner: Person
    relationships: dict[str, Person] = field(default_factory=dict)
    payments: list[Payment] = field(default_factory=list)


def avatar_url(user_id: str, avatar_hash: str | None, discriminator: str | None) -> str | None:
    """The CDN avatar URL, or the default avatar; None for non-numeric ids."""
    if not user_id.isdigit():
        return None
    if avatar_hash:
        ext = "gif" if avatar_hash.startswith("a_") else "png"
        return f"https://cdn.discordapp.com/avatars/{user_id}/{avatar_hash}.{ext}"
    if discriminator not in (None, "", "0", "0000") and str(discriminator).isdigit():
        index = int(str(discriminator)) % 5
    else:
        index = (int(user_id) >> 22) % 6
    return f"https://cdn.discordapp.com/embed/avatars/{index}.png"


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


def _person(raw: Any) -> Person | None:
    if not isinstance(raw, dict) or raw.get("id") is None:
        return None
    return Person(
        id=str(raw["id"]),
        username=str(raw.get("username") or ""),
        discriminator=_str(raw.get("discriminator")),
        global_name=_str(raw.get("global_name")),
        avatar_hash=_str(raw.get("avatar_hash", raw.get("avatar"))),
    )


def _payment(raw: Any) -> Payment | None:
    if not isinstance(raw, dict) or raw.get("id") is None:
        return None
    try:
        return Payment(
            id=str(raw["id"]),
            amount=int(raw.get("amount") or 0),
            currency=str(raw.get("currency") or "").lower(),
            status=int(raw.get("status") or 0),
            created_at=str(raw.get("created_at") or ""),
            description=str(raw.get("description") or ""),
        )
    except (TypeError, ValueError):
        return None


def parse_account(user_json: bytes, payments_json: bytes | None) -> Account:
    """Parse the account files; malformed ``user.json`` -> ``MALFORMED_PACKAGE``."""
    try:
        raw = orjson.loads(user_json)
    except orjson.JSONDecodeError as exc:
        raise CordvaultError(
            ErrorCode.MALFORMED_PACKAGE, "the package's user.json is not valid JSON"
        ) from exc
    owner = _person(raw)
    if owner is None:
        raise CordvaultError(ErrorCode.MALFORMED_PACKAGE, "the package's user.json has no user id")
    account = Account(owner=owner)
    for rel in raw.get("relationships") or []:
        if not isinstance(rel, dict):
            continue
        raw_user = rel.get("user")
        user: dict[str, Any] = raw_user if isinstance(raw_user, dict) else {}
        person = _person({**user, "id": rel.get("id", user.get("id"))})
        if person is not None:
            account.relationships[person.id] = person
    seen: set[str] = set()
    records: list[Any] = list(raw.get("payments") or [])
    if payments_json:
        try:
            extra = orjson.loads(payments_json)
        except orjson.JSONDecodeError:
            extra = {}
        if isinstance(extra, dict):
            records.extend(extra.get("records") or [])
        elif isinstance(extra, list):
            records.extend(extra)
    for rec in records:
        payment = _payment(rec)
        if payment is not None and payment.id not in seen:
            seen.add(payment.id)
            account.payments.append(payment)
    return account


def payment_day(created_at: str) -> str | None:
    """UTC 'YYYY-MM-DD' of an ISO timestamp (None when unparsable)."""
    text = created_at.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d")
