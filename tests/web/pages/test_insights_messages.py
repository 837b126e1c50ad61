"""Every error code the insights API documents has a sentence on the /insights page."""

from __future__ import annotations

import re
from pathlib import Path

from cordvault.core.settings import Settings
from cordvault.web.pages.render import STATIC_DIR

DOCS = Path(__file__).resolve().parents[3] / "docs" / "insights-api.md"


def test_every_documented_code_has_a_message() -> None:
    text = DOCS.read_text()
    section = text.split("## Error codes in `errorMessageCode`", 1)[1].split("\n## ", 1)[0]
    settings = {name.upper() for name in Settings.model_fields}  # named there too, not codes
    documented = set(re.findall(r"`([A-Z][A-Z_]{3,})`", section)) - settings
    assert {"EXPIRED_LINK", "PACKAGE_TOO_LARGE", "NOT_A_ZIP"} <= documented
    script = (STATIC_DIR / "js" / "insights" / "submit.js").read_text()
    table = script.split("const MESSAGES = {", 1)[1].split("};", 1)[0]
    handled = set(re.findall(r"^\s+([A-Z_]+):", table, flags=re.M))
    # FORBIDDEN, UPSTREAM_ERROR and MISSING_SETTINGS belong to routes the page never calls
    # (admin upgrade, /user, /widget).
    missing = documented - handled - {"FORBIDDEN", "UPSTREAM_ERROR", "MISSING_SETTINGS"}
    assert not missing, f"no message for {sorted(missing)}"
