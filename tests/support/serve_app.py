"""Run the full app through :func:`cordvault.cli.server.run_server`, as ``cordvault serve`` does.

For tests that need a real server process (memory, signals). Settings come from the
environment. ``--spin MARKER`` adds ``GET /spin``, a sync route whose thread-pool thread never
returns (a stuck worker thread); it touches ``MARKER`` once it runs. Test-only: production code
has no such route.

Usage: ``python serve_app.py PORT [--spin MARKER]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cordvault.cli.server import run_server
from cordvault.core.settings import load_settings
from cordvault.web.app import create_app


def main(argv: list[str]) -> None:
    port = int(argv[0])
    settings = load_settings()
    app = create_app(settings)
    if len(argv) > 2 and argv[1] == "--spin":
        marker = Path(argv[2])

        @app.get("/spin")
        def spin() -> dict[str, str]:
            marker.touch()
            while True:  # busy, never returns
                time.sleep(0.001)
                sum(range(1000))

    run_server(app, settings, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main(sys.argv[1:])
