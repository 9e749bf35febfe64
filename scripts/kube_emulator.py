"""A local Kubernetes API for the demo and the chart tests: kmock's KubernetesEmulator on HTTP.

It listens on 127.0.0.1, knows the built-in resources (`load_bundled()`) and every custom
resource found in the given CRD files (so discovery lists them), and writes a kubeconfig that
kubectl, helm and the operator use as they would a real cluster's.

    python scripts/kube_emulator.py --kubeconfig .demo/kubeconfig --crds crds/

runs it until SIGINT/SIGTERM. Tests use `running_emulator()` in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from kmock import Server
from kmock._internal import rendering

# The operator tests' emulator adds what kopf needs (uid, resourceVersion, generation); reuse
# it rather than keep two. It lives with the test support code.
REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))
from support.kube_auth import read_token_file  # noqa: E402
from support.kube_emulator import ApiServerEmulator  # noqa: E402

SERVER_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-kmock"}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


class CoreFixedEmulator(ApiServerEmulator):
    """The operator tests' emulator, plus what client-go (kubectl, Helm) needs: kmock 0.8
    answers `/api/v1` with groupVersion "/v1", so client-go's REST mapper (which keys the core
    resources by "v1") finds no ConfigMap, Secret or Service; and Helm asks for OpenAPI."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # Helm validates manifests against the server's OpenAPI before creating them; an empty
        # OpenAPI v3 index makes it skip that (kmock has no schemas to offer).
        self.fallback["get /openapi/v3"] << {"paths": {}}

    async def _serve_server_version(self, request: rendering.Request) -> rendering.Payload:
        # kmock claims 1.26; the chart requires >= 1.28, so claim the version we validate for.
        payload = await super()._serve_server_version(request)
        return {**cast(dict[str, Any], payload), **SERVER_VERSION}

    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        payload = await super()._serve_version(request)
        if isinstance(payload, dict) and payload.get("groupVersion", "").startswith("/"):
            payload["groupVersion"] = payload["groupVersion"].lstrip("/")
        return payload


@dataclass(frozen=True)
class RunningEmulator:
    """A started emulator: its URL, the kubeconfig written for it, and the in-memory store."""

    url: str
    kubeconfig: Path
    emulator: CoreFixedEmulator


def kubeconfig_yaml(url: str) -> str:
    """A kubeconfig with one context `asrfleet-emulator` pointing at `url` (no auth, no TLS)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "emulator", "user": {"token": "emulator"}}],
        "contexts": [
            {
                "name": "asrfleet-emulator",
                "context": {"cluster": "emulator", "user": "emulator", "namespace": "default"},
            }
        ],
        "current-context": "asrfleet-emulator",
    }
    return yaml.safe_dump(config, sort_keys=False)


def custom_resources(crd_paths: Iterable[Path]) -> list[tuple[str, dict[str, Any]]]:
    """(group/version/plural, ResourceInfo fields) for every served version of every CRD."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in crd_paths:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            names = spec["names"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                info = {
                    "kind": names["kind"],
                    "singular": names.get("singular", names["kind"].lower()),
                    "namespaced": spec.get("scope", "Namespaced") == "Namespaced",
                    "verbs": VERBS,
                    "shortnames": names.get("shortNames", []),
                    "categories": names.get("categories", []),
                    "subresources": sorted(version.get("subresources", {})),
                }
                found.append((f"{spec['group']}/{version['name']}/{names['plural']}", info))
    return found


def crd_files(paths: Iterable[Path]) -> list[Path]:
    """YAML files named directly or found in the named directories."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return files


@contextlib.asynccontextmanager
async def running_emulator(
    kubeconfig: Path,
    crds: Iterable[Path] = (),
    port: int | None = None,
    token_file: Path | None = None,
) -> AsyncIterator[RunningEmulator]:
    """Start the emulator on 127.0.0.1 (a free port unless given) and write its kubeconfig;
    `token_file` (kube-apiserver's --token-auth-file format) names who TokenReviews know."""
    async with CoreFixedEmulator() as emulator, Server(emulator, host="127.0.0.1", port=port):
        if token_file is not None:
            emulator.users = read_token_file(token_file)
        # Without the built-ins, kopf waits forever for the namespaces resource.
        emulator.resources.load_bundled()
        for key, info in custom_resources(crd_files(crds)):
            emulator.resources[key] = cast(Any, info)
        url = str(emulator.url).rstrip("/")
        await asyncio.to_thread(write_whole, kubeconfig, kubeconfig_yaml(url))
        yield RunningEmulator(url=url, kubeconfig=kubeconfig, emulator=emulator)


def write_whole(path: Path, text: str) -> None:
    # Readers wait for the file to exist: write beside it and rename, so it never exists empty.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running_context = running_emulator(args.kubeconfig, args.crds, args.port, args.token_auth_file)
    async with running_context as running:
        # One line on stdout tells a parent process that the API is up and where.
        print(f"kube-emulator: listening on {running.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig to write")
    parser.add_argument("--crds", type=Path, nargs="*", default=[], help="CRD files or dirs")
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    parser.add_argument(
        "--token-auth-file",
        type=Path,
        default=None,
        help='tokens TokenReviews accept: token,user,uid[,"group1,group2"] per line',
    )
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
