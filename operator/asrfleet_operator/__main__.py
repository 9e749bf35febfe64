"""`python -m asrfleet_operator`: run the operator (kopf) with settings from ASRFLEET_* env.

Kube config comes from the in-cluster service account when present, else from KUBECONFIG
(or ~/.kube/config), as kubectl does. `--help` prints the settings and exits without any
cluster access.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from collections.abc import Sequence

import kopf

from asrfleet_operator import __version__
from asrfleet_operator.controller import Context, register
from asrfleet_operator.kube import KubeClient
from asrfleet_operator.settings import Settings, SettingsError, env_table


def build_parser() -> argparse.ArgumentParser:
    rows = "\n".join(
        f"  {var:<32} {desc} (default: {default or '-'})" for var, default, desc in env_table()
    )
    parser = argparse.ArgumentParser(
        prog="python -m asrfleet_operator",
        description="asrfleet operator: keeps SpeechRecognizer fleets (Deployment, Service, HPA,"
        " PDB, ServiceMonitor) as declared.",
        epilog=f"settings (environment variables):\n{rows}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def login() -> kopf.ConnectionInfo | None:
    """In-cluster service account first, then kubeconfig (KUBECONFIG or ~/.kube/config)."""
    settings = kopf.OperatorSettings()
    return kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )


async def run(settings: Settings, *, stop_flag: asyncio.Event | None = None) -> None:
    registry = kopf.OperatorRegistry()
    ctx = Context(settings=settings, client=KubeClient())
    register(registry, ctx, login)
    await kopf.operator(
        registry=registry,
        clusterwide=settings.clusterwide,
        namespaces=settings.namespaces,
        standalone=not settings.peering,
        peering_name=settings.peering or None,
        liveness_endpoint=None,  # /healthz is served with /metrics by metrics.py
        stop_flag=stop_flag,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"asrfleet-operator: {exc}", file=sys.stderr)
        return 2
    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(verbose=args.verbose, log_format=log_format, log_refkey="object")
    # Everything imported so far (kopf pulls in the kubernetes client, jsonschema...) lives as
    # long as the process: keep it out of the garbage collector's scans, which otherwise took
    # about a quarter of the operator's CPU per reconcile (bench/operator_scale.py).
    gc.freeze()
    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
