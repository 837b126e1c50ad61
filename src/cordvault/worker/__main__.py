"""``python -m cordvault.worker [--concurrency N] [--loglevel L]``: a Celery worker process.

``cordvault worker`` execs this. Bad settings end with the CLI's ``error CODE: message`` line
and the code's exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from cordvault.core.errors import CordvaultError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cordvault worker")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument(
        "--queues",
        default="premium,standard,previews",
        help="comma-separated queues to consume (default: all; e.g. previews for a "
        "thumbnail-only worker)",
    )
    args = parser.parse_args(argv)
    from cordvault.core.logs import configure_logging
    from cordvault.core.process import restrict_umask
    from cordvault.core.settings import load_settings, require

    restrict_umask()

    try:
        settings = load_settings()
        require(settings, "broker_url")
        configure_logging(settings.debug_logging, fmt=settings.log_format)
        from cordvault.worker.celery_worker import run_worker

        queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
        run_worker(settings, concurrency=args.concurrency, loglevel=args.loglevel, queues=queues)
    except CordvaultError as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
