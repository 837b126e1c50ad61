"""Core pieces every domain shares: settings, the error family, logging.

The names are resolved on first use (PEP 562): importing ``cordvault.core.errors`` or
``cordvault.core.allocator`` must not import the settings (pydantic, ~20 MB resident), which
the analysis worker processes never need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cordvault.core.errors import CordvaultError, ErrorCode
    from cordvault.core.settings import Settings, load_settings

__all__ = ["CordvaultError", "ErrorCode", "Settings", "load_settings"]


def __getattr__(name: str) -> Any:
    if name in ("CordvaultError", "ErrorCode"):
        from cordvault.core import errors

        return getattr(errors, name)
    if name in ("Settings", "load_settings"):
        from cordvault.core import settings

        return getattr(settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
