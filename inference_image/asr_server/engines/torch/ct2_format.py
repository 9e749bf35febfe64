"""Read a CTranslate2 `model.bin` (binary format version 6) into numpy arrays.

The layout, as CTranslate2's `ModelSpec._serialize` writes it (little-endian):
`uint32 version`, `string spec name`, `uint32 spec revision`, `uint32 variable count`, then per
variable `string name`, `uint8 rank`, `uint32 dims[rank]`, `uint8 dtype`, `uint32 byte count`,
the bytes; then `uint32 alias count` and per alias `string alias`, `string target`. A string is
`uint16 length` (including a trailing NUL) and its UTF-8 bytes. Other versions lay variables out
differently, so they are refused rather than guessed at. The file is memory-mapped: arrays are
views into it until the caller copies them.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SUPPORTED_VERSION = 6
DTYPES: tuple[str, ...] = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
"""CTranslate2's type ids, in order (`_dtype_to_type_id`)."""


class CT2FormatError(ValueError):
    """A model.bin this reader cannot use; the message says why."""


@dataclass(frozen=True)
class CT2Model:
    spec: str
    """The model spec's name, e.g. `WhisperSpec`."""
    revision: int
    variables: dict[str, npt.NDArray[np.generic]]
    """Name -> array (bfloat16 arrays come as their raw uint16 bits)."""
    aliases: dict[str, str]
    """Alias -> the variable it names (e.g. the output projection tied to the embeddings)."""

    def scalar(self, name: str) -> int:
        return int(self.variables[name].reshape(-1)[0])


def read_version(path: Path) -> int:
    with path.open("rb") as handle:
        head = handle.read(4)
    if len(head) < 4:
        raise CT2FormatError(f"{path} is too short to be a CTranslate2 model.bin")
    return int(struct.unpack("<I", head)[0])


def read_model(path: Path) -> CT2Model:
    """Parse `path`; CT2FormatError for another format version or a truncated file."""
    version = read_version(path)
    if version != SUPPORTED_VERSION:
        raise CT2FormatError(
            f"{path} is CTranslate2 model format version {version}; this converter reads "
            f"version {SUPPORTED_VERSION} only (re-export the model with a CTranslate2 release "
            "that writes it, or load a PyTorch Whisper checkpoint directly)"
        )
    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _Reader(mapped, path).model()
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise CT2FormatError(f"{path} is truncated or corrupt: {exc}") from None


class _Reader:
    def __init__(self, buffer: mmap.mmap, path: Path) -> None:
        self.buffer = buffer
        self.path = path
        self.offset = 0

    def model(self) -> CT2Model:
        self.unpack("<I")  # version, checked by the caller
        spec = self.string()
        revision = self.unpack("<I")
        variables = {}
        for _ in range(self.unpack("<I")):
            name = self.string()
            rank = self.unpack("<B")
            shape = tuple(self.unpack("<I") for _ in range(rank))
            type_id = self.unpack("<B")
            size = self.unpack("<I")
            if type_id >= len(DTYPES):
                raise CT2FormatError(f"{self.path}: variable {name} has unknown type id {type_id}")
            variables[name] = self.array(DTYPES[type_id], shape, size, name)
        aliases = {}
        for _ in range(self.unpack("<I")):
            alias = self.string()
            aliases[alias] = self.string()
        if self.offset != len(self.buffer):
            raise CT2FormatError(f"{self.path} has {len(self.buffer) - self.offset} extra bytes")
        return CT2Model(spec, revision, variables, aliases)

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.buffer, self.offset)
        self.offset += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str:
        length = self.unpack("<H")
        raw = self.buffer[self.offset : self.offset + length]
        if len(raw) != length:
            raise CT2FormatError(f"{self.path} ends inside a name")
        self.offset += length
        return raw.rstrip(b"\0").decode("utf-8")

    def array(
        self, dtype: str, shape: tuple[int, ...], size: int, name: str
    ) -> npt.NDArray[np.generic]:
        numpy_dtype = np.dtype("uint16" if dtype == "bfloat16" else dtype).newbyteorder("<")
        count = int(np.prod(shape)) if shape else 1
        if count * numpy_dtype.itemsize != size or self.offset + size > len(self.buffer):
            raise CT2FormatError(
                f"{self.path}: variable {name} {shape} {dtype} does not match its {size} bytes"
            )
        data = np.frombuffer(self.buffer, numpy_dtype, count, self.offset).reshape(shape)
        self.offset += size
        return data
