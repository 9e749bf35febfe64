"""Audio bytes -> 16 kHz mono float32, the only form engines accept.

Two entry points: `decode_audio` for any container FFmpeg reads (wav, flac, mp3, ogg/opus,
webm, m4a, ...) through PyAV, and `pcm16_to_audio` for raw little-endian PCM16 (ASRT, the
WebSocket stream). Both resample with FFmpeg's resampler and raise `BadAudio` with a stable
code (`empty_audio`, `undecodable_audio`, `audio_too_long`, `invalid_pcm`) for bad input; no
input makes them hang or crash the process.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import av
import av.error
import numpy as np

from asr_server.errors import BadAudio
from asr_server.types import SAMPLE_RATE, Audio

log = logging.getLogger(__name__)

MAX_PCM_CHANNELS = 8
MIN_SAMPLE_RATE = 2_000
MAX_SAMPLE_RATE = 384_000
"""Rates outside this range are refused: a damaged header claiming 800 MHz made FFmpeg's
resampler spin for tens of seconds on a 64 kB body, and 1 Hz would expand 16000-fold."""
MAX_CHANNELS = 64
_NO_NESTED_OPENS = {"protocol_whitelist": "none"}
"""No protocol may be opened from inside the body: an ffconcat list or HLS playlist sent as
"audio" must not make FFmpeg read the server's files or fetch URLs (SSRF)."""
_DURATION_SLACK_S = 0.5
"""Container headers round durations; reject up front only when clearly over the limit."""


def decode_audio(data: bytes, *, max_seconds: float | None = None) -> Audio:
    """Decode any audio container to 16 kHz mono float32.

    Over-long audio is refused from the container's declared duration before decoding when
    the header has one, and otherwise as soon as the decoded samples pass the limit, so a
    small compressed body never expands to gigabytes in memory.
    """
    if not data:
        raise BadAudio("the audio is empty (0 bytes)", code="empty_audio")
    try:
        return _decode(data, max_seconds)
    except (BadAudio, MemoryError):
        raise
    except Exception as exc:  # FFmpeg/PyAV corner cases on hostile input: still bad audio
        log.info("undecodable audio (%s: %s)", type(exc).__name__, exc)
        raise BadAudio(
            f"cannot decode the audio ({type(exc).__name__}: {_reason(exc)})",
            code="undecodable_audio",
        ) from None


def _decode(data: bytes, max_seconds: float | None) -> Audio:
    try:
        container = av.open(
            io.BytesIO(data), mode="r", metadata_errors="ignore", options=_NO_NESTED_OPENS
        )
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise BadAudio(
            f"cannot decode the audio: not a recognised audio format ({_reason(exc)})",
            code="undecodable_audio",
        ) from None
    with container:
        if not container.streams.audio:
            raise BadAudio(
                f"cannot decode the audio: the {container.format.name} file has no audio stream",
                code="undecodable_audio",
            )
        stream = container.streams.audio[0]
        _check_shape(stream.rate or MIN_SAMPLE_RATE, stream.channels or 1)  # 0: not in header
        declared = _declared_seconds(container, stream)
        if max_seconds is not None and declared > max_seconds + _DURATION_SLACK_S:
            raise _too_long(declared, max_seconds)
        limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
        chunks: list[Audio] = []
        total = 0
        damaged: list[str] = []
        for chunk in _resampled(container, stream, damaged):
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise _too_long(total / SAMPLE_RATE, max_seconds or 0.0)
    if total == 0 and damaged:
        raise BadAudio(
            f"cannot decode the audio: the {_codec_name(stream)} data is damaged ({damaged[0]})",
            code="undecodable_audio",
        )
    if total == 0:
        raise BadAudio("the audio contains no samples", code="empty_audio")
    return np.concatenate(chunks).astype(np.float32, copy=False)


def pcm16_to_audio(
    data: bytes, sample_rate: int, channels: int = 1, *, max_seconds: float | None = None
) -> Audio:
    """Raw little-endian signed 16-bit PCM (interleaved when `channels` > 1) -> 16 kHz mono."""
    if not data:
        raise BadAudio("the audio is empty (0 bytes)", code="empty_audio")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise BadAudio(
            f"sample_rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz; "
            f"got {sample_rate}",
            code="invalid_pcm",
        )
    if not 0 < channels <= MAX_PCM_CHANNELS:
        raise BadAudio(
            f"channels must be between 1 and {MAX_PCM_CHANNELS}; got {channels}",
            code="invalid_pcm",
        )
    frame_bytes = 2 * channels
    if len(data) % frame_bytes:
        raise BadAudio(
            f"PCM16 data of {len(data)} bytes is not a whole number of {channels}-channel "
            f"frames ({frame_bytes} bytes each)",
            code="invalid_pcm",
        )
    seconds = len(data) / frame_bytes / sample_rate
    if max_seconds is not None and seconds > max_seconds:
        raise _too_long(seconds, max_seconds)
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)
    mono: Audio = samples.mean(axis=1, dtype=np.float32) / np.float32(32768.0)
    if sample_rate == SAMPLE_RATE:
        return mono
    return resample(mono, sample_rate)


def resample(samples: Audio, sample_rate: int) -> Audio:
    """Mono float32 at `sample_rate` -> SAMPLE_RATE, with FFmpeg's resampler."""
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = sample_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    parts = [_mono(f) for f in resampler.resample(frame)]
    parts += [_mono(f) for f in resampler.resample(None)]
    if not parts:
        return np.zeros(0, dtype=np.float32)
    joined: Audio = np.concatenate(parts)
    return joined


def _resampled(
    container: av.container.InputContainer, stream: av.AudioStream, damaged: list[str]
) -> Iterator[Audio]:
    """Decoded frames of `stream` as 16 kHz mono float32 chunks. A corrupt packet is skipped
    (and noted in `damaged`), as FFmpeg's own tools do: a truncated file yields the audio
    before the damage."""
    # Planar float at the source layout, averaged here: FFmpeg's own float downmix scales
    # stereo by sqrt(2) and would clip, while an average keeps [-1, 1].
    resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE)
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError) as exc:
                damaged.append(_reason(exc))
                continue
            for frame in frames:
                _check_shape(frame.sample_rate, len(frame.layout.channels))
                for out in resampler.resample(frame):
                    yield _mono(out)
        for out in resampler.resample(None):  # flush
            yield _mono(out)
    except (av.error.FFmpegError, ValueError) as exc:
        damaged.append(_reason(exc))  # demuxing stopped at damaged data; keep what came before


def _check_shape(sample_rate: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise BadAudio(
            f"cannot decode the audio: unsupported sample rate {sample_rate} Hz "
            f"(accepted: {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE})",
            code="undecodable_audio",
        )
    if not 0 < channels <= MAX_CHANNELS:
        raise BadAudio(
            f"cannot decode the audio: unsupported channel count {channels}",
            code="undecodable_audio",
        )


def _codec_name(stream: av.AudioStream) -> str:
    context = stream.codec_context
    return str(context.name) if context is not None else "audio"


def _mono(frame: av.AudioFrame) -> Audio:
    planes = frame.to_ndarray()  # (channels, samples) for planar formats
    mono: Audio = planes.mean(axis=0, dtype=np.float32) if planes.shape[0] > 1 else planes[0]
    return mono.astype(np.float32, copy=False)


def _declared_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    """Duration from the headers (0 when unknown)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _too_long(seconds: float, max_seconds: float) -> BadAudio:
    return BadAudio(
        f"the audio is {seconds:.1f} s long; this server accepts at most {max_seconds:g} s",
        code="audio_too_long",
    )


def _reason(exc: Exception) -> str:
    text = str(exc).split(":")[0].split("] ")[-1]
    return text.strip() or type(exc).__name__
