"""Core pieces every domain shares: settings, the error family, logging."""

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings, load_settings

__all__ = ["CordvaultError", "ErrorCode", "Settings", "load_settings"]
