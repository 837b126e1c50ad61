"""docs/live-protocol.md and the implementation list the same packet ids."""

from __future__ import annotations

import re
from pathlib import Path

from cordvault.drive.events import TOPICS
from cordvault.web.live import PUSHED, REPLIES, REQUESTS


def test_document_lists_exactly_the_implemented_packets() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "live-protocol.md").read_text()
    documented = set(re.findall(r"`((?:c2s|s2c|generic):[a-z-]+)`", doc))
    implemented = set(REQUESTS) | set(REPLIES) | set(PUSHED)
    assert documented == implemented
    # Every topic the drive records is pushed under its s2c id.
    assert {f"s2c:{t}" for t in TOPICS} <= set(PUSHED)
