"""Run by tests/drive/test_catalog_crash.py in a child process: start a catalog snapshot
(settings from the environment), print ``MID`` once its body parts are stored and its head is
being stored, then hang there until killed (``kill -9``)."""

from __future__ import annotations

import time

from cordvault.core.settings import load_settings
from cordvault.drive.catalog import records
from cordvault.drive.catalog.writer import CatalogWriter
from cordvault.runtime import build_services
from cordvault.storage.counting import CountingChunkStore

records.MAX_INLINE = 256  # a multi-part snapshot even for a small drive


class Stalling(CountingChunkStore):
    def put_named(self, data: bytes, name: str) -> str:
        print("MID", self.counters.puts, flush=True)
        time.sleep(600)
        raise AssertionError("should have been killed")


with build_services(load_settings()) as services:
    services.drive.replace_store(Stalling(services.drive.store))
    CatalogWriter(services.drive).tick()
