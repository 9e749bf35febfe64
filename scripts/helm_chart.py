"""Helm without a `helm` binary: lint and install the chart with Helm's own library (helm-sdkpy).

    python scripts/helm_chart.py lint charts/asrfleet
    python scripts/helm_chart.py install RELEASE charts/asrfleet -n NAMESPACE [-f values.yaml]
    python scripts/helm_chart.py upgrade --install RELEASE charts/asrfleet -n NAMESPACE [...]
    python scripts/helm_chart.py uninstall RELEASE -n NAMESPACE

`make helm-lint` and `make install` use a real `helm` when one is on PATH and this otherwise.
Helm reads HELM_DRIVER (secret, configmap, memory) when its library loads, so set it in the
environment of this process, not from inside it: the chart tests run this script with
HELM_DRIVER=memory against the Kubernetes emulator, which cannot store Helm's release Secret.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import yaml


def _helm() -> Any:
    try:
        import helm_sdkpy
    except ImportError:
        sys.exit("helm_chart: helm-sdkpy is not installed; run `make venv` (or install helm)")
    return helm_sdkpy


SEVERITIES = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def lint(chart: Path) -> int:
    """Lint like `helm lint`; print the findings; 0 when there are no errors.

    helm-sdkpy 0.1.32 returns each finding's severity and file but loses the error text (Go
    errors serialise as {}), so on failure render the chart (`install`) to see the message.
    """
    helm = _helm()
    result = asyncio.run(helm.Lint(helm.Configuration()).run(str(chart)))
    messages = result.get("Messages") or []
    errors = 0
    for message in messages:
        severity = SEVERITIES.get(message.get("Severity", 0), "UNKNOWN")
        errors += severity == "ERROR"
        detail = message.get("Err") or ""
        print(f"[{severity}] {chart}/{message.get('Path', '')} {detail or ''}".rstrip())
    errors = max(errors, len(result.get("Errors") or []))
    if errors:
        print(f"helm lint: {chart}: {errors} error(s)", file=sys.stderr)
        return 1
    print(f"helm lint: {chart}: 1 chart linted, 0 failed")
    return 0


def load_values(files: list[Path], sets: list[str]) -> dict[str, Any]:
    """Merge values files left to right (maps deeply), then `--set a.b=JSON-or-string` pairs."""
    values: dict[str, Any] = {}
    for path in files:
        _merge(values, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    for pair in sets:
        key, _, raw = pair.partition("=")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = values
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return values


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def install(args: argparse.Namespace) -> int:
    """`helm install` or `helm upgrade [--install]` (no waiting: the operator reports its
    readiness itself, and the emulator runs no controllers)."""
    helm = _helm()
    config = _config(helm, args)
    values = load_values(args.values, args.set) or None
    chart = str(args.chart)
    try:
        if args.command == "upgrade":
            action = helm.Upgrade(config).run(
                args.release, chart, values=values, install=args.install,
                create_namespace=args.create_namespace, wait=False,
            )  # fmt: skip
        else:
            action = helm.Install(config).run(
                args.release, chart, values=values,
                create_namespace=args.create_namespace, wait=False,
            )  # fmt: skip
        release = asyncio.run(action)
    except helm.HelmError as exc:
        print(f"helm {args.command}: {exc}", file=sys.stderr)
        return 1
    info = release.get("info", {})
    print(f"NAME: {release.get('name')}\nNAMESPACE: {args.namespace}")
    print(f"STATUS: {info.get('status')}\n\n{info.get('notes', '')}".rstrip())
    return 0


def uninstall(args: argparse.Namespace) -> int:
    helm = _helm()
    try:
        asyncio.run(helm.Uninstall(_config(helm, args)).run(args.release, wait=False))
    except helm.HelmError as exc:
        print(f"helm uninstall: {exc}", file=sys.stderr)
        return 1
    print(f'release "{args.release}" uninstalled')
    return 0


def _config(helm: Any, args: argparse.Namespace) -> Any:
    return helm.Configuration(
        namespace=args.namespace, kubeconfig=args.kubeconfig, kubecontext=args.kube_context
    )


def _cluster_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", default="default")
    parser.add_argument("--kubeconfig", default=None, help="default: $KUBECONFIG or ~/.kube/config")
    parser.add_argument("--kube-context", default=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lint_parser = sub.add_parser("lint", help="lint a chart")
    lint_parser.add_argument("chart", type=Path)
    for verb in ("install", "upgrade"):
        inst = sub.add_parser(verb, help=f"{verb} a chart in the current kube context")
        if verb == "upgrade":
            inst.add_argument("--install", action="store_true", help="install when absent")
        inst.add_argument("release")
        inst.add_argument("chart", type=Path)
        _cluster_flags(inst)
        inst.add_argument("-f", "--values", type=Path, action="append", default=[])
        inst.add_argument("--set", action="append", default=[], help="key.path=JSON-or-text")
        inst.add_argument("--create-namespace", action="store_true")
    remove = sub.add_parser("uninstall", help="uninstall a release")
    remove.add_argument("release")
    _cluster_flags(remove)
    args = parser.parse_args(argv)
    if args.command == "lint":
        return lint(args.chart)
    if args.command == "uninstall":
        return uninstall(args)
    return install(args)


if __name__ == "__main__":
    sys.exit(main())
