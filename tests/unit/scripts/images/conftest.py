"""The image-test modules live in scripts/images/ as flat modules (the target runs them as a
script): put that folder on sys.path for their unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

IMAGES = Path(__file__).resolve().parents[4] / "scripts" / "images"
if str(IMAGES) not in sys.path:
    sys.path.insert(0, str(IMAGES))
