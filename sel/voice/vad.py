"""Voice activity detection per speaker, with the Silero VAD model faster-whisper ships.

faster-whisper's own ``get_speech_timestamps`` looks at a whole recording at once; a voice
channel needs an answer every few tens of milliseconds, per person. :class:`VadStream` keeps
one speaker's model state (the LSTM's h and c, and the last 64 samples of context) between
calls, so each 32 ms window is judged with what came before it. The ONNX session is shared:
its ``run`` is thread-safe, and every stream passes its own state.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

RATE = 16000
WINDOW = 512  # samples per judgement at 16 kHz: 32 ms, the size Silero VAD was trained on
CONTEXT = 64  # samples of the previous window the model sees before each new one
SPEECH_THRESHOLD = 0.5


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    """The Silero VAD ONNX session (loaded once per process; ~2 MB, single-threaded per call)."""
    import os

    import onnxruntime
    from faster_whisper.utils import get_assets_path

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    path = os.path.join(get_assets_path(), "silero_vad_v6.onnx")
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"], sess_options=options)


def load_vad() -> None:
    """Load the model now (it blocks for a moment), so the first speaker is not kept waiting."""
    _session()


class VadStream:
    """One speaker's running speech probability. Not thread-safe: one stream per speaker, one caller at a time."""

    def __init__(self, *, threshold: float = SPEECH_THRESHOLD) -> None:
        import numpy as np

        self.threshold = threshold
        self.probability = 0.0
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._lock = threading.Lock()

    def accept(self, samples: np.ndarray) -> bool:
        """Take float32 mono samples at 16 kHz; True when the latest full window holds speech."""
        import numpy as np

        with self._lock:
            self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
            while self._pending.size >= WINDOW:
                window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
                self.probability = self._judge(window)
            return self.probability >= self.threshold

    def _judge(self, window: np.ndarray) -> float:
        import numpy as np

        batch = np.concatenate([self._context, window])[np.newaxis, :]
        probs, self._h, self._c = _session().run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = window[-CONTEXT:]
        return float(np.asarray(probs).reshape(-1)[0])
