"""The image-test modules live in scripts/images/ as flat modules (the target runs them as a
script, with scripts/ on its path for demo's plumbing): put both folders on sys.path for their
unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[4] / "scripts"
for folder in (SCRIPTS, SCRIPTS / "images"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
