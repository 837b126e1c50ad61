"""The ``demo`` package: a generated sample everyone may load without a bearer.

Built once per deployment on first request: a synthetic package from the generator (fixed seed,
so every server serves the same demo), analysed like a real one, gzipped and stored *unencrypted*
(the client loads the demo with ``iv: null`` and skips decryption). A marker file in
``DATA_DIR`` remembers that the blob exists.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from cordvault.core.settings import Settings
from cordvault.insights.blobstore import BlobStore

DEMO_ID = "demo"
DEMO_KEY = "demo/sample.gz"
_MARKER = "demo-blob.v1"
_lock = threading.Lock()


def ensure_demo(settings: Settings, blobs: BlobStore) -> str:
    """The demo blob's key, building and storing it first if needed (thread-safe)."""
    marker = settings.data_dir / _MARKER
    if marker.exists():
        return DEMO_KEY
    with _lock:
        if marker.exists():
            return DEMO_KEY
        with tempfile.TemporaryDirectory(prefix="cordvault-demo-") as tmp:
            gz = build_demo(Path(tmp), settings)
            blobs.put(DEMO_KEY, gz)
        marker.write_text(DEMO_KEY)
    return DEMO_KEY


def build_demo(workdir: Path, settings: Settings) -> Path:
    """Generate and analyse the sample package; returns the gzip of its SQLite file."""
    from cordvault.insights.analyze import analyze_package
    from cordvault.insights.blob import gzip_file
    from cordvault.insights.generator import GenOptions, generate_package

    package = workdir / "demo.zip"
    generate_package(package, GenOptions(variant="modern", seed=7, messages=3000, events=5000))
    out = workdir / "demo.sqlite"
    analyze_package(
        package,
        out,
        settings=settings.model_copy(update={"analyze_workers": 1}),
        package_id=DEMO_ID,
    )
    gz = workdir / "demo.sqlite.gz"
    gzip_file(out, gz)
    return gz
