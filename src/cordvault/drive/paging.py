"""Paging parameters of the list routes: every ``limit`` and ``offset`` is bounded.

An unbounded offset reaches the database as an integer it cannot hold (``OverflowError`` in the
driver on SQLite, an out-of-range error on PostgreSQL): the services refuse it first with
``INVALID_INPUT``, and the routes declare the same bounds so the schema shows them.
"""

from __future__ import annotations

from cordvault.core.errors import CordvaultError, ErrorCode

MAX_OFFSET = 10**9
"""Largest ``offset`` a list accepts (far beyond any real folder, small for every database)."""


def check_page(limit: int, offset: int, *, max_limit: int) -> None:
    """``INVALID_INPUT`` unless ``1 <= limit <= max_limit`` and ``0 <= offset <= MAX_OFFSET``."""
    if not 1 <= limit <= max_limit or not 0 <= offset <= MAX_OFFSET:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT, f"limit is 1-{max_limit}, offset is 0-{MAX_OFFSET}"
        )
