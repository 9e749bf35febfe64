"""Reading CTranslate2's model.bin: version 6 only, every variable and alias, clear errors for
other versions and damaged files. The files are written as CTranslate2's serializer writes
them (`ModelSpec._serialize`'s layout), so the real bundled model is not needed here."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from asr_server.engines.torch.convert import ConversionError, convert_directory
from asr_server.engines.torch.ct2_format import (
    DTYPES,
    CT2FormatError,
    read_model,
    read_version,
)


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def model_bin(
    variables: dict[str, np.ndarray],
    aliases: dict[str, str] | None = None,
    version: int = 6,
    spec: str = "WhisperSpec",
) -> bytes:
    out = struct.pack("<I", version) + _string(spec) + struct.pack("<I", 3)
    out += struct.pack("<I", len(variables))
    for name, array in variables.items():
        out += _string(name) + struct.pack("<B", array.ndim)
        out += b"".join(struct.pack("<I", d) for d in array.shape)
        out += struct.pack("<B", DTYPES.index(array.dtype.name))
        out += struct.pack("<I", array.nbytes) + array.tobytes()
    aliases = aliases or {}
    out += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        out += _string(alias) + _string(target)
    return out


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    return path


def test_reads_variables_types_and_aliases(tmp_path: Path) -> None:
    weight = np.arange(6, dtype=np.float16).reshape(2, 3)
    heads = np.array(6, dtype=np.int16)
    path = write(
        tmp_path,
        model_bin({"decoder/embeddings/weight": weight, "decoder/num_heads": heads},
                  {"decoder/projection/weight": "decoder/embeddings/weight"}),
    )  # fmt: skip
    model = read_model(path)
    assert (model.spec, model.revision) == ("WhisperSpec", 3)
    np.testing.assert_array_equal(model.variables["decoder/embeddings/weight"], weight)
    assert model.variables["decoder/embeddings/weight"].dtype == np.float16
    assert model.scalar("decoder/num_heads") == 6
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}


@pytest.mark.parametrize("version", [5, 7, 1])
def test_refuses_other_format_versions(tmp_path: Path, version: int) -> None:
    path = write(tmp_path, model_bin({"x": np.zeros(2, np.float32)}, version=version))
    assert read_version(path) == version
    with pytest.raises(CT2FormatError, match=f"format version {version}; .* version 6 only"):
        read_model(path)


def test_converter_refuses_another_version_with_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, model_bin({"x": np.zeros(2, np.float32)}, version=5))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ConversionError, match="format version 5"):
        convert_directory(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out" / "model.pt").exists()


def test_truncated_and_padded_files_are_refused(tmp_path: Path) -> None:
    data = model_bin({"w": np.ones((4, 4), np.float32)})
    with pytest.raises(CT2FormatError, match=r"does not match|truncated"):
        read_model(write(tmp_path, data[:-40]))
    with pytest.raises(CT2FormatError, match="extra bytes"):
        read_model(write(tmp_path, data + b"\0\0"))
    with pytest.raises(CT2FormatError, match="too short"):
        read_version(write(tmp_path, b"\x06"))


def test_converter_refuses_non_whisper_and_quantised_models(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")
    write(tmp_path, model_bin({"x": np.zeros(2, np.float32)}, spec="TransformerSpec"))
    with pytest.raises(ConversionError, match="TransformerSpec, not a Whisper model"):
        convert_directory(tmp_path, tmp_path / "out")
    quantised = {
        "decoder/activation": np.array(3, np.int8),
        "decoder/pre_norm": np.array(1, np.int8),
        "decoder/embeddings/weight": np.zeros((4, 2), np.int8),
    }
    write(tmp_path, model_bin(quantised))
    with pytest.raises(ConversionError, match="quantised CTranslate2 model"):
        convert_directory(tmp_path, tmp_path / "out")
