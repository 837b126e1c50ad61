"""Turning parsed package facts into the output tables' rows."""
