"""`asr-server serve`: run the HTTP server until SIGTERM/SIGINT, then drain and exit 0.

Every `ServerConfig` field has a flag (`--max-queue` for `ASR_MAX_QUEUE`...); flags win over
the environment. Shutdown order (lifecycle.drain): readiness 503 and new work refused at once, open
streams asked to finalise, in-flight work finishes (up to `drain_seconds`), then the socket
closes and the process exits 0. A model that fails to load exits 1; invalid settings exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Mapping

from asr_server.app import create_app
from asr_server.config import ConfigError, ServerConfig
from asr_server.engines.base import ASREngine
from asr_server.keys import STATE
from asr_server.lifecycle import drain
from asr_server.listen import listen
from asr_server.logging_setup import configure_logging

log = logging.getLogger("asr_server.serve")


def _flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP/WebSocket server",
        description="Serve speech recognition over HTTP. Flags override ASR_* variables.",
    )
    for f in dataclasses.fields(ServerConfig):
        env = f.metadata["env"]
        doc = f"{env}; default {f.default}" if f.default is not None else env
        if f.name == "api_key":
            doc = f"{env} (prefer the variable: flags are visible in the process list)"
        parser.add_argument(_flag(f.name), dest=f.name, metavar="VALUE", default=None, help=doc)
    parser.set_defaults(func=run)


def load_config(args: argparse.Namespace, environ: Mapping[str, str]) -> ServerConfig:
    """Env first, flags on top; both parsed by the same code so errors read the same."""
    env = dict(environ)
    for f in dataclasses.fields(ServerConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            env[f.metadata["env"]] = value
    return ServerConfig.from_env(env)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args, os.environ)
    except ConfigError as exc:
        print(f"asr-server serve: invalid configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_format)
    return asyncio.run(serve(config))


async def serve(config: ServerConfig, engine: ASREngine | None = None) -> int:
    app = create_app(config, engine)
    listener = await listen(app, config.host, config.port)
    log.info("listening", extra={"host": config.host, "port": listener.port})

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    state = app[STATE]
    assert state.load_task is not None
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({stopping, state.load_task}, return_when=asyncio.FIRST_COMPLETED)
    if state.load_error:
        log.error("exiting: model load failed", extra={"error": state.load_error})
        stopping.cancel()
        await listener.close()
        return 1
    await stopping
    log.info("signal received: draining", extra={"grace_s": config.drain_seconds})
    drained = await drain(app, config.drain_seconds)
    await listener.close()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    log.info("stopped", extra={"drained": drained})
    return 0
