"""Argument types the subcommands share: a bad value is a usage error (exit 2) that names the
flag, before anything is loaded or sent."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def bounded_int(bounds: tuple[int, int]) -> Callable[[str], int]:
    """An argparse type: an integer within `bounds` (inclusive; the contract's ranges)."""
    low, high = bounds

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}")
        return number

    return parse
