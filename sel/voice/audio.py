"""Audio in and out: decoding, resampling, 48 kHz stereo PCM in 20 ms frames, ogg/opus and WAV.

Everything goes through PyAV (a faster-whisper dependency that bundles FFmpeg's
libraries), so no ffmpeg binary is needed. Samples are numpy arrays: int16 mono for
speech SEL makes, float32 mono for audio handed to Whisper.
"""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sel.atomic_files import write_atomic
from sel.errors import InputError

if TYPE_CHECKING:
    import av
    import numpy as np

log = logging.getLogger(__name__)

WHISPER_RATE = 16000
OPUS_RATE = 48000  # Opus's native rate: what voice chat plays and voice messages carry
PLAYBACK_CHANNELS = 2
FRAME_SAMPLES = OPUS_RATE // 50  # 20 ms per channel
FRAME_BYTES = FRAME_SAMPLES * PLAYBACK_CHANNELS * 2  # 16-bit samples: 3840 bytes
OPUS_BITRATE = 32000


def decode_audio(
    source: bytes | Path, *, rate: int = WHISPER_RATE, stop_after: float | None = None, name: str = "the audio"
) -> np.ndarray:
    """Decode audio, or a video's audio track, to mono float32 samples in [-1, 1] at ``rate`` Hz.

    ``stop_after`` (seconds) ends decoding a little past that point, so an over-long
    upload costs no more than the limit; the caller sees the excess in the length.
    Raise InputError if the input cannot be decoded or holds no audio.
    """
    import av
    import numpy as np

    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    limit = None if stop_after is None else int(stop_after * rate) + 1
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(_as_file(source), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InputError(f"{name} has no audio track; send a voice message or an audio file")
            for frame in container.decode(audio=0):
                # Timestamps in user uploads are often broken; the resampler only needs the samples.
                frame.pts = None
                total += _collect(resampler.resample(frame), chunks)
                if limit is not None and total > limit:
                    break
            else:
                total += _collect(resampler.resample(None), chunks)
    except FileNotFoundError:
        raise InputError(f"{name}: file not found; check the path") from None
    except av.FFmpegError as err:
        log.debug("decoding %s failed: %s", name, err)
        raise InputError(
            f"{name} cannot be decoded as audio ({_reason(err)}); send ogg, opus, mp3, wav, m4a or a video file"
        ) from None
    if total == 0:
        raise InputError(f"{name} contains no audio samples; send a recording with sound in it")
    return np.concatenate(chunks)


def _as_file(source: bytes | Path) -> io.BytesIO | str:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source)
    return str(source)


def _collect(frames: list[av.AudioFrame], into: list[np.ndarray]) -> int:
    count = 0
    for frame in frames:
        samples = frame.to_ndarray().reshape(-1)
        into.append(samples)
        count += samples.size
    return count


def _reason(err: Exception) -> str:
    strerror = getattr(err, "strerror", None)
    return str(strerror or err).strip().rstrip(".").lower()


def resample_int16(samples: np.ndarray, rate: int, *, to_rate: int, channels: int = 1) -> np.ndarray:
    """Resample int16 mono ``samples`` to ``to_rate`` Hz with ``channels`` channels (interleaved when stereo).

    The result has exactly round(len * to_rate / rate) samples per channel, so durations
    survive resampling without an off-by-a-few-samples drift.
    """
    import av
    import numpy as np

    if samples.dtype != np.int16 or samples.ndim != 1:
        raise ValueError(f"expected 1-D int16 samples, got {samples.dtype} with shape {samples.shape}")
    expected = round(samples.size * to_rate / rate) * channels
    if samples.size == 0:
        return np.zeros(0, dtype=np.int16)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="stereo" if channels == 2 else "mono", rate=to_rate)
    chunks: list[np.ndarray] = []
    _collect(resampler.resample(frame) + resampler.resample(None), chunks)
    out = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    if out.size >= expected:
        return out[:expected]
    return np.concatenate([out, np.zeros(expected - out.size, dtype=np.int16)])


def whisper_samples(samples: np.ndarray, rate: int) -> np.ndarray:
    """int16 mono speech as the float32 16 kHz samples Whisper takes."""
    return resample_int16(samples, rate, to_rate=WHISPER_RATE).astype("float32") / 32768.0


def pcm_48k_stereo(samples: np.ndarray, rate: int) -> bytes:
    """int16 mono speech as 48 kHz stereo 16-bit little-endian PCM, what voice-chat players take."""
    stereo = resample_int16(samples, rate, to_rate=OPUS_RATE, channels=PLAYBACK_CHANNELS)
    return stereo.astype("<i2", copy=False).tobytes()


def pcm_frames(pcm: bytes) -> list[bytes]:
    """Split 48 kHz stereo PCM into 20 ms frames of exactly 3840 bytes; the last one is zero-padded."""
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1] + bytes(FRAME_BYTES - len(frames[-1]))
    return frames


def encode_ogg_opus(samples: np.ndarray, rate: int, *, bitrate: int = OPUS_BITRATE) -> bytes:
    """int16 mono samples as an ogg/opus file at 48 kHz mono, the format of Discord voice messages."""
    import av

    mono48 = resample_int16(samples, rate, to_rate=OPUS_RATE)
    out = io.BytesIO()
    with av.open(out, mode="w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=OPUS_RATE, layout="mono")
        stream.bit_rate = bitrate
        for frame in _frames_of(mono48, OPUS_RATE):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def _frames_of(samples: np.ndarray, rate: int, size: int = OPUS_RATE) -> Iterator[av.AudioFrame]:
    import av

    for start in range(0, samples.size, size):
        frame = av.AudioFrame.from_ndarray(samples[start : start + size].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        yield frame


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """int16 mono samples as a WAV file in memory."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2", copy=False).tobytes())
    return out.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash never leaves half a file."""
    write_atomic(Path(path), data)
