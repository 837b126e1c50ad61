"""cordvault: control your Discord data."""

__version__ = "0.1.0"
