"""Which files make a model directory, per engine: the one list the sources fetch by
(Hugging Face `allow_patterns`, an S3 prefix's listing, a local directory) and check a
result against. An engine that loads other files (a PyTorch checkpoint) adds its entry here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asr_server.model_sources.errors import ExitCode, FetchError, over_limit


@dataclass(frozen=True)
class ModelLayout:
    """Files of a model directory, as fnmatch patterns on names at its top level."""

    required: tuple[str, ...]
    """Each pattern must match a file, or the model is refused."""
    optional: tuple[str, ...] = ()
    """Kept when present."""

    @property
    def patterns(self) -> tuple[str, ...]:
        return self.required + self.optional

    def select(self, names: Iterable[str]) -> list[str]:
        """The names (relative to the model directory) that belong to the model."""
        return sorted(
            name
            for name in names
            if "/" not in name and any(fnmatch.fnmatchcase(name, p) for p in self.patterns)
        )

    def check(self, names: Iterable[str], where: str) -> None:
        """Raise unless every required pattern matches one of `names`."""
        present = list(names)
        missing = [p for p in self.required if not fnmatch.filter(present, p)]
        if missing:
            raise FetchError(
                f"{where} has no {', '.join(missing)} (a model needs {', '.join(self.required)})",
                ExitCode.INVALID,
            )

    def plan(self, sizes: dict[str, int], where: str, max_bytes: int) -> list[str]:
        """From a source's listing (name -> size), the files to download: the model's, all
        required ones present, within the size limit; raises before anything is fetched."""
        wanted = self.select(sizes)
        self.check(wanted, where)
        total = sum(sizes[name] for name in wanted)
        if total > max_bytes:
            raise over_limit(f"{where}: the model", max_bytes, total)
        return wanted


CTRANSLATE2_WHISPER = ModelLayout(
    required=("model.bin", "config.json", "tokenizer.json", "vocabulary.*"),
    optional=("preprocessor_config.json",),
)
"""A CTranslate2 Whisper directory. Without tokenizer.json faster-whisper would download the
tokenizer from the Hub when the server starts, so it is required."""

LAYOUTS: dict[str, ModelLayout] = {
    "faster-whisper": CTRANSLATE2_WHISPER,
    # The torch engine converts a CTranslate2 Whisper directory into its checkpoint once, at
    # load (engines/torch/convert.py); fetching a `.pt` checkpoint is not supported yet.
    "torch": CTRANSLATE2_WHISPER,
}
"""Engine name -> the files its models consist of."""


def model_root(directory: Path) -> Path:
    """`directory`, or its only subdirectory when that alone holds model.bin (archives made
    with `tar czf model.tgz whisper-x/` wrap the files in one folder)."""
    if (directory / "model.bin").is_file():
        return directory
    children = [child for child in directory.iterdir() if not child.name.startswith(".")]
    if len(children) == 1 and (children[0] / "model.bin").is_file():
        return children[0]
    return directory
