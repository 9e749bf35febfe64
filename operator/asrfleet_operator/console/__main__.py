"""`python -m asrfleet_operator.console`: serve the management console.

The token comes from ASRFLEET_CONSOLE_TOKEN; the kube config is found as the operator finds
it (the in-cluster service account, else KUBECONFIG or ~/.kube/config). `--help` prints the
settings and exits without any cluster access.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from asrfleet_operator import __version__
from asrfleet_operator.console.app import create_app
from asrfleet_operator.console.cluster import NotLoggedIn, connection_info
from asrfleet_operator.console.settings import ConsoleSettings, ConsoleSettingsError
from asrfleet_operator.settings import env_table


def build_parser() -> argparse.ArgumentParser:
    rows = "\n".join(
        f"  {var:<40} {desc} (default: {default or '-'})"
        for var, default, desc in env_table(ConsoleSettings)
    )
    parser = argparse.ArgumentParser(
        prog="python -m asrfleet_operator.console",
        description="asrfleet management console: the fleet, its health and load, Try it,"
        " scale and suspend, in a browser.",
        epilog=f"settings (environment variables; the flags win):\n{rows}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--port", type=int, default=None, help="TCP port (ASRFLEET_CONSOLE_PORT)")
    parser.add_argument("--host", default=None, help="address to listen on (ASRFLEET_CONSOLE_HOST)")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = ConsoleSettings.from_env(os.environ, port=args.port, host=args.host)
        connection = connection_info()
    except ConsoleSettingsError as exc:
        print(f"asrfleet-console: {exc}", file=sys.stderr)
        return 2
    except NotLoggedIn as exc:
        print(f"asrfleet-console: {exc}", file=sys.stderr)
        return 1
    app = create_app(settings, connection)
    print(
        f"asrfleet-console: serving on http://{settings.host}:{settings.port}/"
        f" ({'read-only' if settings.read_only else 'read-write'}) against {connection.server}",
        flush=True,
    )
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
