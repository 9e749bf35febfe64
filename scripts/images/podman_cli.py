"""The podman commands `make image-test` uses, all under its private configuration."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Debian's system CA bundle: pip in the build verifies PyPI with it (truststore reads the
# system store), bind-mounted read-only for the RUN steps only, so no layer holds it.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class PodmanFailed(RuntimeError):
    """A podman command failed; the message has its stderr (or its log's last lines)."""


def log_tail(log: Path, lines: int = 25) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Podman:
    """podman with the environment selecting the private containers.conf and storage.conf."""

    env: Mapping[str, str]

    def run(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            ["podman", *args], env=dict(self.env), capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise PodmanFailed(f"podman {' '.join(args[:3])}: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def build(
        self, dockerfile: str, tag: str, base_image: str, context: Path, log: Path, *,
        build_args: Mapping[str, str] | None = None, mounts: Sequence[Path] = (),
        mounts_stage: str = "build",
    ) -> float:  # fmt: skip
        """Build `tag` from `dockerfile` on `base_image` (never pulled) with `build_args`; the
        seconds it took. The directories `mounts` are bind-mounted read-only at their own paths
        into the RUN steps of the stage `mounts_stage` alone: that stage is built first with
        them, then the image without them from its cached layers, because a bind mount leaves
        its mount point behind as an empty directory in every layer a RUN step makes."""
        ignore = f"{dockerfile}.dockerignore"  # podman 4 does not look for it by itself
        argv = ["podman", "build", "--pull=never", "--format", "docker",  # OCI drops HEALTHCHECK
                "--ignorefile", ignore, "--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
                "--build-arg", f"BASE_IMAGE={base_image}"]  # fmt: skip
        for name, value in (build_args or {}).items():
            argv += ["--build-arg", f"{name}={value}"]
        passes = [[*argv, "-f", dockerfile, "-t", tag, str(context)]]
        if mounts:
            volumes = [item for path in mounts for item in ("--volume", f"{path}:{path}:ro")]
            stage = [*argv, *volumes, "--target", mounts_stage, "-f", dockerfile, str(context)]
            passes.insert(0, stage)
        started = time.monotonic()
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            for command in passes:
                out.write(f"$ {' '.join(command)}\n".encode())
                out.flush()
                done = subprocess.run(command, env=dict(self.env), cwd=context, stdout=out,
                                      stderr=subprocess.STDOUT, check=False)  # fmt: skip
                if done.returncode != 0:
                    raise PodmanFailed(f"podman build {tag} failed ({log}):\n{log_tail(log)}")
        return time.monotonic() - started

    def image_exists(self, tag: str) -> bool:
        done = subprocess.run(["podman", "image", "exists", tag], env=dict(self.env), check=False)
        return done.returncode == 0

    def import_rootfs(self, rootfs: Path, tag: str) -> None:
        """A directory tree as a one-layer image (owners kept as numbers)."""
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)  # fmt: skip
        imported = subprocess.run(["podman", "import", "--quiet", "-", tag], env=dict(self.env),
                                  stdin=tar.stdout, capture_output=True, text=True,
                                  check=False)  # fmt: skip
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise PodmanFailed(f"podman import {tag} failed: {imported.stderr.strip()}")

    def file_digest(self, image: str, path: Path) -> str:
        """sha256 of a file inside `image`."""
        out = self.run("run", "--rm", "--pull=never", "--health-cmd", "none", "--network", "none",
                       "--entrypoint", "sha256sum", image, str(path))  # fmt: skip
        return out.split()[0]

    def image_size(self, tag: str) -> int:
        """Bytes of the image unpacked, as `podman images` counts them."""
        return int(self.run("image", "inspect", "--format", "{{.Size}}", tag).strip())

    def save(self, tag: str, archive: Path) -> None:
        """A docker-archive tar: `docker load`, `podman load`, `kind load image-archive`."""
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.unlink(missing_ok=True)
        self.run("save", "--format", "docker-archive", "-o", str(archive), tag, timeout=600)

    def host_port(self, container: str, port: int) -> int | None:
        """The loopback port published for `port`/tcp; None while the container starts."""
        done = subprocess.run(["podman", "port", container, f"{port}/tcp"], env=dict(self.env),
                              capture_output=True, text=True, check=False)  # fmt: skip
        address = done.stdout.strip().splitlines()
        if done.returncode != 0 or not address:
            return None
        return int(address[0].rpartition(":")[2])

    def exec(self, container: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", "exec", container, *argv], env=dict(self.env),
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip

    def kill(self, container: str, signal: str) -> None:
        self.run("kill", "--signal", signal, container)

    def remove(self, container: str) -> None:
        subprocess.run(["podman", "rm", "--force", "--ignore", container], env=dict(self.env),
                       capture_output=True, check=False, timeout=120)  # fmt: skip
