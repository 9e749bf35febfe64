"""The one error every source raises: a one-line message (no secret in it) and an exit code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """`asr-server fetch-model` exit codes (0 is success)."""

    USAGE = 2
    """A bad URI, an unsupported scheme or a bad setting: retrying cannot help."""
    UNAVAILABLE = 3
    """The source is unreachable or has no such object, repository or revision."""
    INVALID = 4
    """The content failed verification: a checksum mismatch, missing model files, an unsafe
    or oversized archive."""
    DENIED = 5
    """The source refused the credentials, or needs some and none were given."""


@dataclass
class FetchError(Exception):
    """A fetch that failed. `message` is one line and never holds a credential."""

    message: str
    exit_code: ExitCode = ExitCode.UNAVAILABLE

    def __str__(self) -> str:
        return self.message


def over_limit(what: str, max_bytes: int, size: int | None = None) -> FetchError:
    """`what` (of `size` bytes, when known) exceeds the model size limit."""
    amount = f"is {size / 2**30:.1f} GiB, over" if size is not None else "is larger than"
    return FetchError(
        f"{what} {amount} the {max_bytes / 2**30:g} GiB limit (--max-size-gib)", ExitCode.INVALID
    )
