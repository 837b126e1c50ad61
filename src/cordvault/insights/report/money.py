"""Payment amounts: minor units (as stored) to major units (as shown).

Discord, like Stripe, stores amounts in the currency's minor unit. Most currencies have two
decimals; the exceptions below come from ISO 4217's "minor unit" column (the zero-decimal list
matches Stripe's). An unknown code is assumed to have two decimals, which is what every
currency Discord bills in uses.
"""

from __future__ import annotations

from decimal import Decimal

_ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "isk",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "uyi",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
_THREE_DECIMAL = frozenset({"bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"})


def minor_unit_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (0, 2 or 3)."""
    code = currency.lower()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount_minor: int, currency: str) -> str:
    """``1999, "usd"`` -> ``"19.99 USD"``; thousands separated, exact (no float rounding)."""
    digits = minor_unit_digits(currency)
    major = Decimal(amount_minor).scaleb(-digits)
    return f"{major:,.{digits}f} {currency.upper()}"
