"""The README's code, as printed there, for the tests that run it."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def python_block_after(marker: str) -> str:
    """The first ```python block after the text `marker` in the README."""
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index(marker) :]
    code = section[section.index("```python\n") + len("```python\n") :]
    return code[: code.index("\n```")]
